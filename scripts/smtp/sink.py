"""An SMTP sink for the mail tests (N1): aiosmtpd on loopback that writes each message it
accepts to DIR as one file (NNNNNN.eml, in the order received, written whole then renamed,
so a reader never sees half a message), with the envelope in the first lines:

    X-Sink-Mail-From: <from>
    X-Sink-Rcpt-To: <to>[, <to>…]

followed by the message exactly as received; and beside it NNNNNN.json, the message
decoded: {"mail_from", "rcpt_to", "headers": {name: value}, "subject", "plain", "html"}.
Prints "ready PORT" when it listens.

    python sink.py --port PORT --dir DIR [--reject-code CODE]

--reject-code makes it answer every DATA with that code (e.g. 451) instead of accepting it.
"""

import argparse
import asyncio
import email
import email.policy
import itertools
import json
import os
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory, reject_code):
        self.directory = directory
        self.reject_code = reject_code
        # A sink restarted on the same directory goes on numbering after what is there.
        done = [f for f in os.listdir(directory) if f.endswith(".eml")]
        self.counter = itertools.count(len(done) + 1)

    async def handle_DATA(self, server, session, envelope):
        if self.reject_code:
            return f"{self.reject_code} sink told to refuse"
        n = next(self.counter)
        head = (
            f"X-Sink-Mail-From: {envelope.mail_from}\r\n"
            f"X-Sink-Rcpt-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode()
        msg = email.message_from_bytes(content, policy=email.policy.default)
        parts = {"text/plain": "", "text/html": ""}
        for part in msg.walk():
            kind = part.get_content_type()
            if kind in parts and not part.is_multipart():
                parts[kind] += part.get_content()
        decoded = {
            "mail_from": envelope.mail_from,
            "rcpt_to": list(envelope.rcpt_tos),
            "headers": {k: str(v) for k, v in msg.items()},
            "subject": str(msg.get("Subject", "")),
            "content_type": msg.get_content_type(),
            "plain": parts["text/plain"],
            "html": parts["text/html"],
        }
        for suffix, data in ((".eml", head + content), (".json", json.dumps(decoded).encode())):
            tmp = os.path.join(self.directory, f".{n:06d}{suffix}.tmp")
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, os.path.join(self.directory, f"{n:06d}{suffix}"))
        return "250 OK stored"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--reject-code", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    controller = Controller(
        Sink(args.dir, args.reject_code), hostname="127.0.0.1", port=args.port
    )
    controller.start()
    print(f"ready {args.port}", flush=True)
    try:
        asyncio.run(asyncio.Event().wait())
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
