"""Runs scim2-tester (PyPI, python-scim project) against a SCIM 2.0 server and counts results.

    target/scim-check/venv/bin/python scripts/scim-check/run_scim2_tester.py BASE_URL TOKEN
        [--report FILE.json] [--verbose]

One line per check: `PASS|FAIL|WARN|SKIP <status> <title> [<resource type>]: <reason>`, then
`scim2-tester X.Y.Z: N passed, N failed, N skipped, N deviations`. scim2-tester's statuses
map as: SUCCESS, COMPLIANT, ACCEPTABLE → passed (MUST / SHOULD / MAY followed); DEVIATION →
deviation (a SHOULD not followed: reported, not failed); ERROR, CRITICAL → failed (a MUST
broken); SKIPPED → skipped (not applicable to what the server advertises). Exit status 1 when
any check failed, 2 when the checker itself could not run.
"""

import argparse
import importlib.metadata
import json
import sys
import warnings

warnings.simplefilter("ignore")

from httpx2 import Client  # noqa: E402
from scim2_client.engines.httpx2 import SyncSCIMClient  # noqa: E402
from scim2_tester import check_server  # noqa: E402
from scim2_tester.utils import Status  # noqa: E402

PASSED = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}
FAILED = {Status.ERROR, Status.CRITICAL}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("base_url")
    parser.add_argument("token")
    parser.add_argument("--report", help="write every result to this JSON file")
    parser.add_argument("--verbose", action="store_true", help="print each check's data")
    args = parser.parse_args()
    version = importlib.metadata.version("scim2-tester")

    http = Client(
        base_url=args.base_url.rstrip("/") + "/",
        headers={"Authorization": f"Bearer {args.token}"},
        timeout=30,
    )
    client = SyncSCIMClient(http)
    try:
        results = check_server(client)
    except Exception as exc:  # the checker's own crash, not a server's failure
        print(f"scim2-tester {version}: could not run: {exc!r}", file=sys.stderr)
        return 2

    counts = {"passed": 0, "failed": 0, "skipped": 0, "deviations": 0}
    report = []
    for r in results:
        if r.status in PASSED:
            label, key = "PASS", "passed"
        elif r.status in FAILED:
            label, key = "FAIL", "failed"
        elif r.status == Status.DEVIATION:
            label, key = "WARN", "deviations"
        else:
            label, key = "SKIP", "skipped"
        counts[key] += 1
        where = f" [{r.resource_type}]" if r.resource_type else ""
        reason = f": {r.reason}" if r.reason else ""
        print(f"{label} {r.status.name} {r.title}{where}{reason}")
        if args.verbose and r.data is not None:
            print(f"    {r.data!r}")
        report.append({
            "status": r.status.name,
            "title": r.title,
            "resource_type": r.resource_type,
            "reason": r.reason,
            "tags": sorted(r.tags),
        })
    if args.report:
        with open(args.report, "w", encoding="utf-8") as f:
            json.dump({"checker": "scim2-tester", "version": version, "counts": counts,
                       "results": report}, f, indent=2)
    print(
        f"scim2-tester {version}: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['skipped']} skipped, {counts['deviations']} deviations"
    )
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
