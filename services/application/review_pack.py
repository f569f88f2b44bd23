"""The reviewer's pack of a case (rules reference s4): the review as JSON and HTML,
with the proof bundle that ties every event in it to a signed checkpoint."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

from jinja2 import Environment, FileSystemLoader, select_autoescape

from domain.access import Principal
from domain.review import review
from infra.audit import AuditLog
from infra.readmodel import ReadModelStore
from services.application.case_views import NotYetBegunError, computable, computing
from services.application.context import Context
from services.application.ledger import Ledger
from services.application.queries import readable_case

TEMPLATES = Path(__file__).parents[1] / "api" / "templates"
_html = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())


def review_pack(ledger: Ledger, store: ReadModelStore, case_id: Any, on: date) -> dict[str, Any]:
    case = ledger.get_case(case_id)
    if case.current.first_sick_day > on:
        raise NotYetBegunError(case.id, on)
    state = case.state(as_of=on)
    audit = AuditLog(ledger.recorder, store)
    proof: dict[str, Any] | None = None
    try:
        proof = audit.case_bundle(case.id)
        proof_note = (
            f"events up to checkpoint {proof['checkpoint']['seq']} are proven; check with "
            "services/verify_bundle.py --public-key <the ledger's public key>"
        )
    except LookupError as missing:
        proof_note = f"{missing}: run `ledger checkpoint` first"
    except ValueError:
        proof_note = "the audit log is damaged: run `ledger verify`"
    return {
        "case_id": str(case.id),
        "employer_id": state.employer_id,
        "first_sick_day": state.first_sick_day.isoformat(),
        "status": state.status.value,
        "phase": state.phase.value,
        "review": review(case.history, case.timeline(), on),
        "proof_note": proof_note,
        "proof": proof,
    }


def review_pack_for(
    ctx: Context, principal: Principal, case_id: UUID, on: date
) -> dict[str, Any]:
    """The pack for a caller who may read the case (the read is logged)."""
    computable(readable_case(ctx, principal, case_id, "read review pack"))
    with computing(case_id):
        return review_pack(ctx.ledger, ctx.store, case_id, on)


def render_html(pack: dict[str, Any]) -> str:
    return _html.get_template("review_pack.html").render(pack=pack)


def write_pack(pack: dict[str, Any], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "review-pack.json", folder / "review-pack.html"]
    written[0].write_text(json.dumps(pack, indent=2))
    written[1].write_text(render_html(pack))
    if pack["proof"] is not None:
        written.append(folder / "proof.json")
        written[-1].write_text(json.dumps(pack["proof"], indent=2))
    return written
