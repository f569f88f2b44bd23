"""Request size limits: a body larger than allowed is refused with 413 before it is
read into memory (by its Content-Length) or as soon as it grows past the limit
(a chunked body without a length)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

IMPORT_PATH = "/events:import"


class BodyTooLargeError(HTTPException):
    """An HTTP error on purpose: FastAPI passes those through while it reads a body."""

    def __init__(self, limit: int, setting: str) -> None:
        super().__init__(
            413, f"the request body is larger than {limit:,} bytes; send less, or raise {setting}"
        )
        self.limit, self.setting = limit, setting


class BodyLimit:
    """ASGI middleware: ``max_body`` for every request, ``max_import`` for imports."""

    def __init__(self, app: App, max_body: int, max_import: int) -> None:
        self.app, self.max_body, self.max_import = app, max_body, max_import

    def limit_for(self, scope: Scope) -> tuple[int, str]:
        if scope.get("path") == IMPORT_PATH:
            return self.max_import, "LEDGER_MAX_IMPORT_BYTES"
        return self.max_body, "LEDGER_MAX_BODY_BYTES"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self.limit_for(scope)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, BodyTooLargeError(limit, setting))
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit, setting)
            return message

        await self.app(scope, limited, send)


async def _too_large(send: Send, error: BodyTooLargeError) -> None:
    body = json.dumps({
        "type": "https://ledger.example/problems/too-large",
        "title": "The request is too large",
        "status": 413,
        "detail": error.detail,
    }).encode()  # fmt: skip
    await send({
        "type": "http.response.start",
        "status": 413,
        "headers": [(b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode())],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})
