"""The review pack in the browser, with the page session: the HTML a reviewer reads (on a
phone too), the PDF they file, and the proof bundle that comes with it."""

from __future__ import annotations

import json
from datetime import date
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.api.page_kit import REFUSALS, caller_of, context, login_page, refused_page
from services.application.labels import short_reference
from services.application.review_pack import render_html, render_pdf, review_pack_for

router = APIRouter(include_in_schema=False)


def _pack(request: Request, case_id: UUID, on: date | None,
          with_proof: bool = False) -> dict[str, object] | Response:  # fmt: skip
    caller = caller_of(request)
    if caller is None:
        return login_page(request, "sign in to see the review pack")
    try:
        return review_pack_for(context(request), caller, case_id, on or date.today(),
                               with_proof=with_proof)  # fmt: skip
    except REFUSALS as refused:
        return refused_page(request, refused)


@router.get("/ui/cases/{case_id}/review-pack", response_class=HTMLResponse)
def review_pack_page(case_id: UUID, request: Request, on: date | None = None) -> Response:
    pack = _pack(request, case_id, on)
    return pack if isinstance(pack, Response) else HTMLResponse(render_html(pack))


@router.get("/ui/cases/{case_id}/review-pack.pdf")
def review_pack_pdf(case_id: UUID, request: Request, on: date | None = None) -> Response:
    pack = _pack(request, case_id, on)
    if isinstance(pack, Response):
        return pack
    name = f"review-pack-{short_reference(case_id)}-{pack['review']['on']}.pdf"  # type: ignore[index]
    return Response(render_pdf(pack), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


@router.get("/ui/cases/{case_id}/proof.json")
def proof_bundle(case_id: UUID, request: Request, on: date | None = None) -> Response:
    """The proof bundle (verify it with services/tools/verify_bundle.py)."""
    pack = _pack(request, case_id, on, with_proof=True)
    if isinstance(pack, Response):
        return pack
    if pack["proof"] is None:
        return HTMLResponse(f"<p>{pack['proof_note']}</p>", status_code=409)
    name = f"proof-{short_reference(case_id)}.json"
    return Response(json.dumps(pack["proof"], indent=2), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip
