"""Security headers on every response: the pages and the API carry health-adjacent data.

No response may be cached (``no-store``: a shared computer's browser cache, a proxy), be
framed by another site (clickjacking), be sniffed as another type, or leak its URL as a
referrer. The pages load nothing from elsewhere and run no script, so their policy is
strict; Swagger UI and ReDoc (``/docs``, ``/redoc``) run scripts, all served by the app
itself (``services/api/docs.py``), so their policy allows scripts from this origin and
nothing from elsewhere.
"""

from __future__ import annotations

from services.api.limits import App, Message, Receive, Scope, Send

PAGE_POLICY = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
DOCS_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src blob:; "
    "frame-ancestors 'none'; base-uri 'none'"
)
DOCS = ("/docs", "/redoc")
HEADERS = {
    b"cache-control": b"no-store",
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
    b"cross-origin-opener-policy": b"same-origin",
}


class SecurityHeaders:
    """ASGI middleware that sets ``HEADERS`` and a content security policy."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = str(scope.get("path", "")).startswith(DOCS)
        policy = (DOCS_POLICY if docs else PAGE_POLICY).encode()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in HEADERS]
                message["headers"] = [*kept, *HEADERS.items(),
                                      (b"content-security-policy", policy)]  # fmt: skip
            await send(message)

        await self.app(scope, receive, with_headers)
