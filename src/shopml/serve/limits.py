"""Request body size limit: bodies over the limit are refused with 413 before any parsing."""

from __future__ import annotations

import json
from typing import Any


class BodySizeLimitMiddleware:
    """ASGI middleware answering 413 to a body larger than ``max_bytes``.

    A declared ``Content-Length`` over the limit is refused at once; a chunked body is read up to
    the limit and refused as soon as it goes over, so the app never buffers more than the limit.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await self._reply(
                    send, 400, "bad_request", f"Content-Length {declared!r} is not a number"
                )
                return
            if size > self.max_bytes:
                await self._too_large(send, size)
                return
        chunks, total = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            total += len(body)
            if total > self.max_bytes:
                await self._too_large(send, None)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        buffered = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return buffered
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Any, size: int | None) -> None:
        got = f"{size} bytes" if size is not None else "more than that"
        await self._reply(
            send,
            413,
            "payload_too_large",
            f"request body is limited to {self.max_bytes} bytes; got {got}",
        )

    @staticmethod
    async def _reply(send: Any, status: int, error: str, message: str) -> None:
        body = json.dumps({"error": error, "message": message}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
