"""The reviewer's pack of a case (rules reference s4): the review as JSON and HTML,
with the proof bundle that ties every event in it to a signed checkpoint."""

from __future__ import annotations

import json
import re
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
from services.application.labels import short_reference, words
from services.application.ledger import Ledger
from services.application.queries import readable_case

TEMPLATES = Path(__file__).parents[1] / "api" / "templates"
_html = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())


def review_pack(ledger: Ledger, store: ReadModelStore, case_id: Any, on: date,
                *, with_proof: bool = True) -> dict[str, Any]:  # fmt: skip
    """The pack of a case as of ``on``; ``with_proof``: with its proof bundle (which
    reads the whole log: the pages build it only when it is downloaded)."""
    case = ledger.get_case(case_id)
    if case.current.first_sick_day > on:
        raise NotYetBegunError(case.id, on)
    state = case.state(as_of=on)
    audit = AuditLog(ledger.recorder, store)
    proof, proof_note = _proof(audit, case.id) if with_proof else (None, _checkpoint_note(audit))
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


VERIFY = "check with services/tools/verify_bundle.py --public-key <the ledger's public key>"


def _proof(audit: AuditLog, case_id: UUID) -> tuple[dict[str, Any] | None, str]:
    try:
        proof = audit.case_bundle(case_id)
    except LookupError:
        return None, "no signed checkpoint covers this file yet: run `ledger checkpoint`"
    except ValueError:
        return None, "the audit log is damaged: run `ledger verify`"
    return proof, f"events up to checkpoint {proof['checkpoint']['seq']} are proven; {VERIFY}"


def _checkpoint_note(audit: AuditLog) -> str:
    found = audit.checkpoints()
    if not found:
        return "no signed checkpoint yet: run `ledger checkpoint`"
    last = found[-1]
    return (f"checkpoint {last['seq']} signs the first {last['tree_size']} events of the "
            f"ledger; the proof bundle proves this file's events in it ({VERIFY})")  # fmt: skip


def review_pack_for(
    ctx: Context, principal: Principal, case_id: UUID, on: date, *, with_proof: bool = True
) -> dict[str, Any]:
    """The pack for a caller who may read the case (the read is logged)."""
    computable(readable_case(ctx, principal, case_id, "read review pack"))
    with computing(case_id):
        return review_pack(ctx.ledger, ctx.store, case_id, on, with_proof=with_proof)


UUID_TEXT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# the reviewer's order (rules reference s4): documents, result, then what UWV and the
# second track did, disputes, sanctions, and what was corrected
SECTIONS = (
    ("result", "Result", "resultaat"),
    ("uwv", "UWV", "meldingen en aanvragen"),
    ("second_track", "Second track", "tweede spoor"),
    ("expert_opinions", "Expert opinions", "deskundigenoordelen"),
    ("sanctions_and_suspensions", "Sanctions and suspensions", "sancties en opschortingen"),
    ("corrections", "Corrections", "correcties"),
)


def readable(pack: dict[str, Any]) -> dict[str, Any]:
    """The pack as a reviewer reads it: labels in words, values in words, events that
    other events name by their type and day, no ids but the short case reference."""
    review_ = pack["review"]
    sections = [
        {"key": key, "title": title, "dutch": dutch,
         "facts": [_readable_fact(f) for f in review_[key]]}
        for key, title, dutch in SECTIONS
    ]  # fmt: skip
    return {
        "reference": short_reference(pack["case_id"]),
        "employer_id": pack["employer_id"],
        "first_sick_day": pack["first_sick_day"],
        "status": words(pack["status"]),
        "phase": words(pack["phase"]),
        "on": review_["on"],
        "documents_complete": review_["documents_complete"],
        "missing": [words(d) for d in review_["missing_documents"]],
        "documents": [{**d, "document": words(d["document"]), "note": _text(d["note"])}
                      for d in review_["documents"]],
        "findings": [_text(f) for f in review_["findings"]],
        "sections": sections,
        "proof_note": pack["proof_note"],
        "proven": pack["proof"] is not None,
    }


ROLES = {"uwv": "UWV", "uwv_reviewer": "UWV reviewer"}


def _readable_fact(fact: dict[str, Any]) -> dict[str, Any]:
    role, _, who = fact["recorded_by"].partition(":")
    by = ROLES.get(role, words(role))
    return {
        "occurred_on": fact["occurred_on"],
        "what": words(fact["type"]),
        "by": by if who.lower() in (role, by.lower()) else f"{by} {who}",
        "details": [(words(k), _value(v)) for k, v in fact["data"].items()
                    if v not in (None, "", [], {})],
    }


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{words(k)}: {_value(v)}" for k, v in value.items())
    text = str(value)
    if UUID_TEXT.match(text):
        return "an earlier event of this file"
    return words(text) if re.fullmatch(r"[a-z]+(_[a-z0-9]+)+", text) else text


def _text(text: str) -> str:
    """A sentence whose code names (``plan_of_approach``, ``CurrentOpinionIssued``) are
    put in words."""
    snake = re.sub(r"\b[a-z]+(?:_[a-z0-9]+)+\b", lambda m: words(m.group(0)), text)
    return re.sub(r"\b[A-Z][a-z]+(?:[A-Z][a-z]+)+\b", lambda m: words(m.group(0)), snake)


def render_html(pack: dict[str, Any]) -> str:
    return _html.get_template("review_pack.html").render(pack=readable(pack))


def render_pdf(pack: dict[str, Any]) -> bytes:
    """The pack as the PDF a reviewer files (WeasyPrint, from the same HTML)."""
    from weasyprint import HTML  # imported when asked: it loads Pango

    pdf: bytes = HTML(string=render_html(pack)).write_pdf()
    return pdf


def write_pack(pack: dict[str, Any], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "review-pack.json", folder / "review-pack.html", folder / "review-pack.pdf"]
    written[0].write_text(json.dumps(pack, indent=2))
    written[1].write_text(render_html(pack))
    written[2].write_bytes(render_pdf(pack))
    if pack["proof"] is not None:
        written.append(folder / "proof.json")
        written[-1].write_text(json.dumps(pack["proof"], indent=2))
    return written
