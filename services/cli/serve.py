"""``ledger serve`` and ``ledger token``."""

from __future__ import annotations

import argparse
import re
import sys

from domain.access import ONE_EMPLOYER, Principal, Role
from services.api.auth import MAX_TOKEN_HOURS, TokenError, issue_token, signing_key
from services.cli.common import EXIT_USAGE, Commands, command


def register(commands: Commands) -> None:
    p = command(
        commands, "serve", cmd_serve,
        help="run the HTTP API and the web pages",
        description="Serve the API (OpenAPI at /docs) and the pages (deadline dashboard,\n"
        "case pages, statistics) on the ledger's store. Prints a one-time sign-in\n"
        "link for --role (default admin): it signs in once, within ten minutes, and holds no\n"
        "token, so the log is no key to the ledger. Read models are kept current by a\n"
        "background runner. The token key is LEDGER_JWT_KEY (or a development key file).",
        examples=["ledger serve", "ledger serve --host 0.0.0.0 --port 8080 --role admin"],
    )  # fmt: skip
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--role",
        default="admin",
        choices=[r.value for r in Role if r not in ONE_EMPLOYER],
        help="role of the sign-in link printed (default admin; employer and employee "
        "tokens name their employer: ledger token)",
    )

    p = command(
        commands, "token", cmd_token,
        help="issue a bearer token for a role",
        description="Print a signed token (JWT, HS256, key LEDGER_JWT_KEY or the development\n"
        "key file) for a subject with a role. Employer tokens are scoped to one employer;\n"
        "case managers and physicians to the employers given (all when none).",
        examples=["ledger token --role employer --employer ER00017 --subject er-17",
                  "ledger token --role case_manager --subject cm-1 --employer ER00017 ER00018",
                  "ledger token --role uwv_reviewer --subject uwv-1 --hours 1"],
    )  # fmt: skip
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--subject", help="who the token is for (default: the role)")
    p.add_argument("--employer", nargs="+", metavar="ID", help="employers served")
    p.add_argument("--hours", type=float, default=8.0,
                   help=f"valid for (default 8, at most {MAX_TOKEN_HOURS:g})")  # fmt: skip
SUBJECT = re.compile(r"^[A-Za-z0-9._:@-]{1,64}$")  # recorded as the actor of events


def _principal(role: str, subject: str | None, employers: list[str] | None) -> Principal:
    name = subject or role
    if not SUBJECT.match(name):
        raise TokenError(f"subject {name!r} must match [A-Za-z0-9._:@-]{{1,64}}")
    return Principal(name, Role(role), frozenset(employers) if employers else None)


def cmd_token(args: argparse.Namespace) -> int:
    try:
        if args.hours <= 0:
            raise TokenError(f"--hours must be above 0 (at most {MAX_TOKEN_HOURS:g})")
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
    codes = app.state.ctx.sign_in_codes
    code = codes.issue(_principal(args.role, None, None))
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    base = f"http://{host}:{args.port}"
    print(f"ledger: serving {app.state.ctx.ledger.database_url}", flush=True)
    minutes = codes.ttl_seconds / 60
    print(f"  pages:  {base}/ui/login?code={code}  (signs in once, within {minutes:g} minutes)",
          flush=True)  # fmt: skip
    print(f"  API:    {base}/docs  (Authorization: Bearer <ledger token --role ROLE>)", flush=True)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        app.state.ctx.close()
    return 0
