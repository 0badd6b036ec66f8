"""The internal token: with ``api_key`` set, every ``/v1`` request (and ``/tokenize``,
``/detokenize``) must carry it.

The model server takes no virtual keys (that is the gateway's job); on a cluster it must still
refuse anyone who is not the gateway, so the gateway sends a shared token and the server checks
it. ``/health``, ``/ready`` and ``/metrics`` stay open for probes and scrapers.
"""

from __future__ import annotations

import hmac
import json

from starlette.types import ASGIApp, Receive, Scope, Send

from inferstack.errors import AuthenticationError, error_body

__all__ = ["BearerTokenMiddleware"]


class BearerTokenMiddleware:
    """Plain ASGI (streams pass straight through); 401 in OpenAI's shape without the token."""

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        sent = dict(scope["headers"]).get(b"authorization", b"")
        if hmac.compare_digest(sent, self._expected):
            await self.app(scope, receive, send)
            return
        error = AuthenticationError("this model server takes requests from the gateway only")
        body = json.dumps(error_body(error)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _is_open(path: str) -> bool:
    """Probes and scrapes need no token; everything else (``/v1``, the tokenizer) does."""
    return not (path.startswith("/v1") or path in ("/tokenize", "/detokenize"))
