"""``/ui/api/*`` and the session cookie on the gateway's own routes: sign-in, CSRF, expiry,
sign-out, the playground's key, and the page's security headers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from support.console import MASTER, console_app, console_settings, upstream, virtual_key

SESSION = "inferstack_session"


async def login(client: httpx.AsyncClient, key: str) -> dict[str, Any]:
    answer = await client.post("/ui/api/login", json={"key": key})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_master_sign_in_sets_a_strict_http_only_cookie(client) -> None:
    answer = await client.post("/ui/api/login", json={"key": MASTER})
    assert answer.status_code == 200
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION}=")
    for flag in ("HttpOnly", "SameSite=strict", "Path=/", "Max-Age=28800"):
        assert flag.lower() in cookie.lower()
    assert "secure" not in cookie.lower()  # plain http here; https sets Secure
    body = answer.json()
    assert body["principal"]["kind"] == "master" and body["principal"]["is_admin"]
    assert MASTER not in answer.text
    me = (await client.get("/ui/api/me")).json()
    assert me["csrf_token"] == body["csrf_token"] and me["principal"]["role"] == "proxy_admin"
    behind_tls = await client.post(
        "/ui/api/login", json={"key": MASTER}, headers={"x-forwarded-proto": "https"}
    )
    assert "secure" in behind_tls.headers["set-cookie"].lower()


async def test_wrong_keys_and_bodies_are_client_errors(client) -> None:
    bad = await client.post("/ui/api/login", json={"key": "sk-nope"})
    assert bad.status_code == 401 and bad.json()["error"]["type"] == "authentication_error"
    both = await client.post("/ui/api/login", json={"key": "x", "username": "u", "password": "p"})
    assert both.status_code == 400
    none = await client.post("/ui/api/login", json={})
    assert none.status_code == 400
    password = await client.post("/ui/api/login", json={"username": "u", "password": "p"})
    assert password.status_code == 401
    assert (await client.get("/ui/api/me")).status_code == 401


async def test_failed_sign_ins_are_throttled_per_address(tmp_path) -> None:
    app = console_app(tmp_path, login_failures_per_minute=3)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            for _ in range(3):
                assert (await client.post("/ui/api/login", json={"key": "x"})).status_code == 401
            refused = await client.post("/ui/api/login", json={"key": MASTER})
            assert refused.status_code == 429 and "retry-after" in refused.headers


async def test_the_cookie_authenticates_admin_routes_and_csrf_guards_writes(client) -> None:
    csrf = (await login(client, MASTER))["csrf_token"]
    assert (await client.get("/key/list")).status_code == 200  # a read needs no token
    spec = {"alias": "from the console"}
    missing = await client.post("/key/generate", json=spec)
    assert missing.status_code == 403
    assert missing.json()["error"]["param"] == "x-csrf-token"
    wrong = await client.post("/key/generate", json=spec, headers={"x-csrf-token": "x" + csrf})
    assert wrong.status_code == 403
    made = await client.post("/key/generate", json=spec, headers={"x-csrf-token": csrf})
    assert made.status_code == 200 and made.json()["alias"] == "from the console"
    # a bearer key is not a cookie: no CSRF token needed, and it wins over the cookie
    other = httpx.AsyncClient(transport=client._transport, base_url="http://gateway")
    bearer = await other.post(
        "/key/generate", json=spec, headers={"Authorization": f"Bearer {MASTER}"}
    )
    assert bearer.status_code == 200


async def test_a_virtual_key_session_is_that_key(client) -> None:
    key = await virtual_key(client, alias="alice's key", models=["chat"])
    body = await login(client, key["key"])
    principal = body["principal"]
    assert principal["kind"] == "key" and not principal["is_admin"]
    assert principal["key_id"] == key["key_id"] and principal["alias"] == "alice's key"
    assert (await client.get("/user/list")).status_code == 403  # admins only
    own = await client.get("/key/info", params={"key_id": key["key_id"]})
    assert own.status_code == 200 and own.json()["key_id"] == key["key_id"]
    playground = await client.post(
        "/ui/api/playground/key", headers={"x-csrf-token": body["csrf_token"]}
    )
    assert playground.json() == {"key": key["key"]}
    # revoking the key ends its session
    admin = {"Authorization": f"Bearer {MASTER}"}
    await client.post("/key/delete", json={"key_ids": [key["key_id"]]}, headers=admin)
    assert (await client.get("/ui/api/me")).status_code == 401


async def test_a_master_session_gets_its_own_playground_key_revoked_at_sign_out(client) -> None:
    csrf = (await login(client, MASTER))["csrf_token"]
    assert (await client.post("/ui/api/playground/key")).status_code == 403  # no CSRF token
    first = await client.post("/ui/api/playground/key", headers={"x-csrf-token": csrf})
    key = first.json()["key"]
    assert key != MASTER and key.startswith("sk-")
    again = await client.post("/ui/api/playground/key", headers={"x-csrf-token": csrf})
    assert again.json()["key"] == key  # minted once per session
    chat = await client.post(
        "/v1/chat/completions",
        json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert chat.status_code == 200
    assert (await client.post("/ui/api/logout")).status_code == 403  # sign-out needs CSRF too
    out = await client.post("/ui/api/logout", headers={"x-csrf-token": csrf})
    assert out.json() == {"signed_out": True}
    assert (await client.get("/ui/api/me")).status_code == 401
    assert (await client.get("/key/list")).status_code == 401
    refused = await client.post(
        "/v1/chat/completions",
        json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert refused.status_code == 401


async def test_a_session_expires(client, app) -> None:
    await login(client, MASTER)
    auth = app.state.console.auth
    auth._clock = lambda: 10**12  # far in the future: every session has expired
    auth._store._clock = auth._clock
    assert (await client.get("/ui/api/me")).status_code == 401
    assert (await client.get("/key/list")).status_code == 401


async def test_the_page_and_assets_carry_a_strict_policy(client) -> None:
    assert (await client.get("/ui")).headers["location"] == "/ui/"
    page = await client.get("/ui/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script " in page.text and "<script>" not in page.text  # no inline script
    script = await client.get("/ui/static/js/app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["content-security-policy"] == policy
    again = await client.get(
        "/ui/static/js/app.js", headers={"if-none-match": script.headers["etag"]}
    )
    assert again.status_code == 304 and not again.content  # a reload downloads nothing new
    other = await client.get("/ui/static/js/app.js", headers={"if-none-match": '"stale"'})
    assert other.status_code == 200 and other.content == script.content
    for missing in ("/ui/static/../settings.py", "/ui/static/nope.js", "/ui/static/sessions.py"):
        answer = await client.get(missing)
        assert answer.status_code == 404


@pytest.mark.parametrize("tracing", [False, True])
async def test_config_names_the_trace_link_only_when_tracing_is_on(tmp_path, tracing) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from inferstack.gateway import build_gateway_app
    from inferstack.telemetry.settings import TelemetrySettings
    from inferstack.telemetry.tracing import Telemetry

    template = "http://127.0.0.1:6006/redirects/traces/{trace_id}"
    exporter = InMemorySpanExporter()
    telemetry = (
        Telemetry.from_settings(TelemetrySettings(), service_name="gw", exporter=exporter)
        if tracing
        else Telemetry.disabled()
    )
    app = build_gateway_app(
        console_settings(tmp_path, trace_url_template=template),
        master_key=MASTER,
        transport=httpx.MockTransport(upstream),
        telemetry=telemetry,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            config = (await client.get("/ui/api/config")).json()
            key = await virtual_key(client)
            chat = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
            bearer = {"Authorization": f"Bearer {key['key']}"}
            assert (await client.post("/v1/chat/completions", json=chat, headers=bearer)).is_success
            await app.state.gateway.recorder.flush()
            admin = {"Authorization": f"Bearer {MASTER}"}
            logs = await client.get("/spend/logs", params={"paginate": True}, headers=admin)
            trace_id = logs.json()["data"][0]["trace_id"]
    telemetry.flush()
    # the log's trace id (what the link is made of) is the trace the gateway exported
    exported = {f"{s.context.trace_id:032x}" for s in exporter.get_finished_spans()}
    assert (trace_id in exported) if tracing else trace_id is None
    assert config == {
        "password_login": True,
        "trace_url_template": template if tracing else None,
    }


async def test_a_password_session_acts_as_its_user(client) -> None:
    admin = {"Authorization": f"Bearer {MASTER}"}
    user = {"user_id": "bob", "user_role": "internal_user", "password": "correct horse 9"}
    assert (await client.post("/user/new", json=user, headers=admin)).status_code == 200
    wrong = await client.post("/ui/api/login", json={"username": "bob", "password": "nope"})
    assert wrong.status_code == 401
    answer = await client.post(
        "/ui/api/login", json={"username": "bob", "password": "correct horse 9"}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert "correct horse" not in answer.text
    principal = body["principal"]
    assert principal["user_id"] == "bob" and principal["role"] == "internal_user"
    assert principal["session"] == "user" and not principal["is_admin"]
    csrf = {"x-csrf-token": body["csrf_token"]}
    # the user's own keys, through the cookie
    made = await client.post("/key/generate", json={"alias": "bob's"}, headers=csrf)
    assert made.status_code == 200 and made.json()["user_id"] == "bob"
    assert (await client.get("/user/list")).status_code == 403
    # the playground key is minted for this session, owned by bob, and revoked at sign-out
    key = (await client.post("/ui/api/playground/key", headers=csrf)).json()["key"]
    info = await client.get("/key/info", params={"key": key}, headers=admin)
    assert info.json()["user_id"] == "bob" and info.json()["expires_at"] is not None
    await client.post("/ui/api/logout", headers=csrf)
    info = await client.get("/key/info", params={"key": key}, headers=admin)
    assert info.json()["revoked"] is True
    assert (await client.get("/key/list")).status_code == 401


async def test_signing_in_again_ends_the_session_before(client) -> None:
    csrf = (await login(client, MASTER))["csrf_token"]
    old_cookie = client.cookies[SESSION]
    key = (await client.post("/ui/api/playground/key", headers={"x-csrf-token": csrf})).json()
    await login(client, MASTER)
    assert client.cookies[SESSION] != old_cookie
    admin = {"Authorization": f"Bearer {MASTER}"}
    info = await client.get("/key/info", params={"key": key["key"]}, headers=admin)
    assert info.json()["revoked"] is True  # the old session's playground key went with it
    stale = httpx.AsyncClient(
        transport=client._transport, base_url="http://gateway", cookies={SESSION: old_cookie}
    )
    assert (await stale.get("/key/list")).status_code == 401


async def test_a_viewer_reads_but_gets_no_playground_key(client) -> None:
    admin = {"Authorization": f"Bearer {MASTER}"}
    user = {"user_id": "vic", "user_role": "internal_user_viewer", "password": "viewer pass 7"}
    assert (await client.post("/user/new", json=user, headers=admin)).status_code == 200
    answer = await client.post(
        "/ui/api/login", json={"username": "vic", "password": "viewer pass 7"}
    )
    body = answer.json()
    assert body["principal"]["role"] == "internal_user_viewer"
    assert not body["principal"]["makes_keys"]
    csrf = {"x-csrf-token": body["csrf_token"]}
    assert (await client.get("/usage/top")).status_code == 200  # own usage
    refused = await client.post("/ui/api/playground/key", headers=csrf)
    assert refused.status_code == 403 and refused.json()["error"]["type"] == "permission_error"
    assert (await client.post("/key/generate", json={}, headers=csrf)).status_code == 403
