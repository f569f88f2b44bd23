"""``ledger serve`` and ``ledger token``."""

from __future__ import annotations

import argparse
import re
import sys

from domain.access import Principal, Role
from services.api.auth import TokenError, issue_token, signing_key

EXIT_USAGE = 2
SUBJECT = re.compile(r"^[A-Za-z0-9._:@-]{1,64}$")  # recorded as the actor of events


def _principal(role: str, subject: str | None, employers: list[str] | None) -> Principal:
    name = subject or role
    if not SUBJECT.match(name):
        raise TokenError(f"subject {name!r} must match [A-Za-z0-9._:@-]{{1,64}}")
    return Principal(name, Role(role), frozenset(employers) if employers else None)


def cmd_token(args: argparse.Namespace) -> int:
    try:
        principal = _principal(args.role, args.subject, args.employer)
        print(issue_token(principal, signing_key(), hours=args.hours))
    except TokenError as error:
        print(f"ledger token: {error}", file=sys.stderr)
        return EXIT_USAGE
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from services.api.app import create_app

    app = create_app()
    token = issue_token(_principal(args.role, None, None), signing_key(), hours=12)
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    base = f"http://{host}:{args.port}"
    print(f"ledger: serving {app.state.ctx.ledger.database_url}", flush=True)
    print(f"  pages:  {base}/ui/login?token={token}", flush=True)
    print(f"  API:    {base}/docs  (Authorization: Bearer <ledger token --role ROLE>)", flush=True)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        app.state.ctx.close()
    return 0
