"""Launches the test OpenID Connect provider (PyPI `oidc-provider-mock`) on loopback.

    target/oidc/venv/bin/python scripts/oidc/provider.py --port 9400 \
        [--users users.json] [--token-max-age SECONDS] [--no-kid]

- Issuer: `http://127.0.0.1:PORT` (the provider derives it from the request's Host header).
  Discovery at `/.well-known/openid-configuration`, keys at `/jwks`, RS256 ID tokens.
- Clients: any client id and secret are accepted, so a test gets a token for another audience
  by naming another client id.
- Users: `--users FILE`, a JSON list of objects with `sub` and any claims (`groups`, `email`,
  `name`, ...); more at run time with `PUT /users/{sub}` and a JSON body of claims. Claims
  outside the standard scopes (such as `groups`) are always put in the ID token.
- A token: POST `/oauth2/authorize?client_id=C&redirect_uri=R&response_type=code&scope=openid
  email profile&state=S` with the form field `sub=USER` answers 302 to R with `code`; POST
  `/oauth2/token` (basic auth C:any, grant_type=authorization_code, code, redirect_uri) answers
  the `id_token`.
- `--token-max-age` sets `exp - iat` of ID tokens; a negative value issues already expired ones.
- Every start generates a new RSA key: a restart on the same port is a key rotation, and a
  second provider signs with another key. Tokens requested with the Host header of another
  provider carry that provider's issuer but this one's signature ("signed by another key").

The one change made here to the provider: the ID token's JOSE header names the signing key
(`kid`, the same id as in `/jwks`), as Entra ID, Okta and Keycloak do and as a verifier that
picks keys by `kid` expects. `--no-kid` leaves the header as the provider writes it (no kid).
"""

import argparse
import json
import logging
import os
import sys
import warnings
from datetime import timedelta

# The provider imports Authlib modules that Authlib itself marks deprecated; noise in test logs.
warnings.simplefilter("ignore")

import uvicorn  # noqa: E402
from oidc_provider_mock import _app  # noqa: E402
from oidc_provider_mock._storage import User  # noqa: E402


def _add_kid() -> None:
    encode_header = _app.OpenIDCode.get_encode_header

    def get_encode_header(self, client):
        header = encode_header(self, client)
        header["kid"] = _app.storage.jwk.as_dict()["kid"]
        return header

    _app.OpenIDCode.get_encode_header = get_encode_header


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--users", help="JSON file: a list of {sub, ...claims}")
    parser.add_argument("--token-max-age", type=int, default=3600)
    parser.add_argument("--no-kid", action="store_true")
    args = parser.parse_args()

    users = []
    if args.users:
        with open(args.users, encoding="utf-8") as f:
            for entry in json.load(f):
                claims = {k: v for k, v in entry.items() if k != "sub"}
                users.append(User(sub=entry["sub"], claims=claims))

    if not args.no_kid:
        _add_kid()
    # Plain http on loopback: Authlib refuses it unless told.
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    app = _app.app(
        require_client_registration=False,
        require_nonce=False,
        issue_refresh_token=False,
        access_token_max_age=timedelta(seconds=args.token_max_age),
        user_claims=users,
    )
    uvicorn.run(app, interface="wsgi", host=args.host, port=args.port, log_config=None)


if __name__ == "__main__":
    main()
