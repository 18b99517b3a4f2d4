"""API keys: write and admin endpoints need the API key; read endpoints the read key if one is set.

Keys travel in the ``X-API-Key`` header and are compared in constant time
(:func:`hmac.compare_digest`), so response timing does not reveal how much of a guess matched.
"""

from __future__ import annotations

import hmac

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from shopml.serve.errors import ApiError

HEADER = "X-API-Key"
api_key_header = APIKeyHeader(name=HEADER, auto_error=False, description="The server's API key")


def _matches(given: str | None, expected: str | None) -> bool:
    if given is None or expected is None:
        return False
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


async def require_write_key(request: Request, key: str | None = Depends(api_key_header)) -> None:
    """Dependency of write and admin endpoints."""
    expected = request.app.state.settings.api_key
    if expected is None:
        raise ApiError(
            403,
            "writes_disabled",
            "this server has no API key configured, so write and admin endpoints are disabled; "
            "start it with --api-key (or SHOPML_API_KEY)",
        )
    if key is None:
        raise ApiError(
            401, "missing_api_key", f"this endpoint needs the API key in the {HEADER} header"
        )
    if not _matches(key, expected):
        raise ApiError(401, "invalid_api_key", f"the {HEADER} header does not hold a valid API key")


async def require_read_key(request: Request, key: str | None = Depends(api_key_header)) -> None:
    """Dependency of read endpoints: open unless the server has a read key (the API key also works)."""
    settings = request.app.state.settings
    if settings.read_key is None:
        return
    if key is None:
        raise ApiError(
            401, "missing_api_key", f"this server needs a read key in the {HEADER} header"
        )
    if not (_matches(key, settings.read_key) or _matches(key, settings.api_key)):
        raise ApiError(401, "invalid_api_key", f"the {HEADER} header does not hold a valid key")
