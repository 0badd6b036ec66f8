"""The internal token: /v1 refuses requests without the gateway's bearer token."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from inferstack.serving.auth import BearerTokenMiddleware


async def ok(_request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def _client() -> httpx.AsyncClient:
    app = Starlette(routes=[Route("/v1/models", ok), Route("/health", ok)])
    guarded = BearerTokenMiddleware(app, token="internal-secret")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=guarded), base_url="http://m")


async def test_v1_needs_the_internal_token_and_probes_do_not() -> None:
    async with _client() as client:
        refused = await client.get("/v1/models")
        assert refused.status_code == 401
        assert refused.json()["error"]["type"] == "authentication_error"
        wrong = await client.get("/v1/models", headers={"Authorization": "Bearer guess"})
        assert wrong.status_code == 401
        good = await client.get("/v1/models", headers={"Authorization": "Bearer internal-secret"})
        assert good.status_code == 200 and good.text == "ok"
        assert (await client.get("/health")).status_code == 200


async def test_the_tokenizer_routes_need_the_token_too() -> None:
    app = Starlette(
        routes=[
            Route("/tokenize", ok, methods=["POST"]),
            Route("/detokenize", ok, methods=["POST"]),
        ]
    )
    guarded = BearerTokenMiddleware(app, token="internal-secret")
    transport = httpx.ASGITransport(app=guarded)
    async with httpx.AsyncClient(transport=transport, base_url="http://m") as client:
        for path in ("/tokenize", "/detokenize"):
            assert (await client.post(path)).status_code == 401
            good = await client.post(path, headers={"Authorization": "Bearer internal-secret"})
            assert good.status_code == 200
