"""``ledger serve``, ``ledger token`` and ``ledger revoke``."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import re
import subprocess
import sys
from datetime import UTC, date, datetime
from typing import Any

from domain.access import ONE_EMPLOYER, Principal, Role
from services.api.auth import (
    MAX_TOKEN_HOURS,
    TokenError,
    issue_token,
    read_claims,
    signing_key,
)
from services.bootstrap import Settings, configure_logging
from services.cli.common import EXIT_USAGE, Commands, add_json, command, print_json, runtime
from services.tools.showcase import demo_principals


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
    p.add_argument("--demo", action="store_true",
                   help="the sign-in page offers a link per role for the demo's files "
                   "(`make run`; loopback addresses only)")  # fmt: skip
    p.add_argument("--follower", choices=["thread", "process", "none"], default="thread",
                   help="what keeps the read models current: a thread of the server "
                   "(default), a `ledger project --follow` process beside it (the requests "
                   "then have the GIL to themselves), or none (run it yourself)")  # fmt: skip

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
    add_json(p, "print the token, its id and when it expires as JSON")
    _register_revoke(commands)


def _register_revoke(commands: Commands) -> None:
    p = command(
        commands, "revoke", cmd_revoke,
        help="revoke a token, or every token of a subject",
        description="Refuse a bearer token from now on, on every server of this ledger\n"
        "(within a few seconds, and after restarts): by the id `ledger token` printed,\n"
        "by the token itself (its signature is checked, the list keeps only its id), or\n"
        "every token of a subject issued until now (someone who left). An entry is kept\n"
        f"for {MAX_TOKEN_HOURS:g} hours, the longest a token lives.",
        examples=["ledger revoke --token-id 3q2-7wXyZ0Aa5bCd --reason 'pasted in a chat'",
                  "ledger revoke --subject cm-1 --reason 'left the company'",
                  "ledger revoke --list --json"],
    )  # fmt: skip
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--token-id", metavar="ID", help="the id of the token (its jti)")
    target.add_argument("--token", metavar="TOKEN", help="the token itself")
    target.add_argument("--subject", metavar="NAME", help="every token of NAME issued so far")
    target.add_argument("--list", action="store_true", help="show the revocations in force")
    p.add_argument("--reason", default="", help="why, for the list (recommended)")
    add_json(p)


SUBJECT = re.compile(r"^[A-Za-z0-9._:@-]{1,64}$")  # recorded as the actor of events


def _principal(role: str, subject: str | None, employers: list[str] | None) -> Principal:
    name = subject or role
    if not SUBJECT.match(name):
        raise TokenError(f"subject {name!r} must match [A-Za-z0-9._:@-]{{1,64}}")
    return Principal(name, Role(role), frozenset(employers) if employers else None)


def _moment(unix_time: float) -> str:
    return datetime.fromtimestamp(unix_time, UTC).isoformat().replace("+00:00", "Z")


def cmd_token(args: argparse.Namespace) -> int:
    try:
        if args.hours <= 0:
            raise TokenError(f"--hours must be above 0 (at most {MAX_TOKEN_HOURS:g})")
        principal = _principal(args.role, args.subject, args.employer)
        token = issue_token(principal, signing_key(), hours=args.hours)
    except TokenError as error:
        print(f"ledger token: {error}", file=sys.stderr)
        return EXIT_USAGE
    claims = read_claims(token, signing_key())
    if args.json:
        print_json({"token": token, "token_id": claims.token_id,
                    "expires_at": _moment(claims.expires_at)})  # fmt: skip
        return 0
    print(token)
    print(f"ledger token: token id {claims.token_id} (ledger revoke --token-id "
          f"{claims.token_id}), expires {_moment(claims.expires_at)}", file=sys.stderr)  # fmt: skip
    return 0


TOKEN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what issue_token's jti is made of


def cmd_revoke(args: argparse.Namespace) -> int:
    try:
        token_id = _token_id(args)
    except TokenError as error:
        print(f"ledger revoke: {error}; nothing was revoked", file=sys.stderr)
        return EXIT_USAGE
    with runtime() as ledger:
        revocations = ledger.revocations
        if args.list:
            _print_entries(revocations.entries(), as_json=args.json)
            return 0
        by = getpass.getuser()
        if token_id is not None:
            entry = revocations.revoke_token(token_id, by=by, reason=args.reason)
        else:
            entry = revocations.revoke_subject(args.subject, by=by, reason=args.reason)
    if args.json:
        print_json(dataclasses.asdict(entry))
    else:
        print(f"ledger revoke: {entry.kind} {entry.value} revoked; servers refuse it within "
              f"{revocations.refresh_seconds:g} seconds")  # fmt: skip
    return 0


def _token_id(args: argparse.Namespace) -> str | None:
    """The id of the token to revoke (None: a subject or the list); TokenError for a
    target no token can be."""
    if args.subject is not None and not SUBJECT.match(args.subject):
        raise TokenError(f"--subject {args.subject!r} must match [A-Za-z0-9._:@-]{{1,64}}, "
                         "as subjects of tokens do")  # fmt: skip
    if args.token is None:
        if args.token_id is not None and not TOKEN_ID.match(args.token_id):
            raise TokenError(f"--token-id {args.token_id!r} is not a token id (letters, "
                             "digits, _ and -, as `ledger token` prints it)")  # fmt: skip
        token_id: str | None = args.token_id
        return token_id
    try:
        found = read_claims(args.token, signing_key()).token_id
    except TokenError as error:
        raise TokenError(f"--token: {error}") from None
    if found is None:
        raise TokenError("--token: the token has no id (an older ledger minted it); revoke "
                         "its subject instead (--subject)")  # fmt: skip
    return found


def _print_entries(entries: list[Any], *, as_json: bool) -> None:
    if as_json:
        print_json([dataclasses.asdict(e) for e in entries])
        return
    if not entries:
        print("no revocations in force")
    for entry in entries:
        print(f"{entry.revoked_at}  {entry.kind:7}  {entry.value}  by {entry.revoked_by}"
              f"  until {entry.expires_at}  {entry.reason}")  # fmt: skip


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from services.api.app import create_app

    if args.demo and args.host not in LOOPBACK:
        print(f"ledger serve: --demo signs anyone in as any role: only on a loopback address "
              f"({', '.join(LOOPBACK)}), not {args.host}", file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    configure_logging()
    demo = tuple(demo_principals(date.today())) if args.demo else ()
    follow = 0.5 if args.follower == "thread" else 0.0
    app = create_app(Settings(demo_sign_in=demo, follow_seconds=follow))
    codes = app.state.ctx.sign_in_codes
    code = codes.issue(_principal(args.role, None, None))
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    base = f"http://{host}:{args.port}"
    print(f"ledger: serving {app.state.ctx.ledger.database_url}", flush=True)
    minutes = codes.ttl_seconds / 60
    print(f"  pages:  {base}/ui/login?code={code}  (signs in once, within {minutes:g} minutes)",
          flush=True)  # fmt: skip
    print(f"  API:    {base}/docs  (Authorization: Bearer <ledger token --role ROLE>)", flush=True)
    if args.demo:
        print(f"  demo:   {base}/ui/login  (a sign-in link per role)", flush=True)
    follower = _follower_process() if args.follower == "process" else None
    try:
        # log_config=None: uvicorn keeps our JSON handler; the request log is ours
        uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False)
    finally:
        if follower is not None:
            follower.terminate()  # it stops at the end of its page (SIGTERM)
            follower.wait(timeout=30)
        app.state.ctx.close()
    return 0


def _follower_process() -> subprocess.Popen[bytes]:
    """``ledger project --follow`` beside the server, on the same store and environment."""
    command = [sys.executable, "-m", "services.cli", "project", "--follow", "--poll", "0.5",
               "-q"]  # fmt: skip
    follower = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    print(f"  read models: kept current by process {follower.pid} (ledger project --follow)",
          flush=True)  # fmt: skip
    return follower
