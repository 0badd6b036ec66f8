"""Models added at run time: stored, routed at once, merged with the YAML, access groups."""

from __future__ import annotations

from typing import Any


async def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def _new(name: str = "fresh", host: str = "f", **info: Any) -> dict[str, Any]:
    return {
        "model_name": name,
        "litellm_params": {
            "model": "openai/up-fresh",
            "api_base": f"http://{host}/v1",
            "api_key": "sk-upstream-secret",
            "input_cost_per_token": 0.000001,
        },
        "model_info": info,
    }


async def _call(gw: Any, model: str, key: str | None = None) -> Any:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return await gw.client.post(
        "/v1/chat/completions", json=body, headers=gw.auth(key or gw.master)
    )


async def test_a_model_added_at_run_time_is_routed_at_once(gateway, upstream) -> None:
    admin = gateway.auth()
    assert (await _call(gateway, "fresh")).status_code == 404
    made = await _ok(await gateway.client.post("/model/new", json=_new(id="m1"), headers=admin))
    assert made["model_id"] == "m1" and "api_key" not in made["litellm_params"]
    answer = await _call(gateway, "fresh")
    assert answer.status_code == 200 and answer.headers["x-inferstack-deployment"] == "m1"
    host, body = upstream.seen[-1]
    assert host == "f" and body["model"] == "up-fresh"
    assert upstream.headers[-1]["authorization"] == "Bearer sk-upstream-secret"
    listed = await _ok(await gateway.client.get("/v1/models", headers=admin))
    assert "fresh" in [m["id"] for m in listed["data"]]

    info = await _ok(await gateway.client.get("/model/info", headers=admin))
    by_id = {m["model_info"]["id"]: m for m in info["data"]}
    assert (
        by_id["m1"]["model_info"]["db_model"] is True
        and by_id["a"]["model_info"]["db_model"] is False
    )
    assert by_id["m1"]["litellm_params"]["input_cost_per_million"] == 1.0
    assert by_id["m1"]["health"] == {
        "healthy": True,
        "cooldown_until": None,
        "failures": 0,
        "outstanding": 0,
    }
    assert "sk-upstream-secret" not in str(info)

    moved = await gateway.client.post(
        "/model/update",
        json={"model_id": "m1", "litellm_params": {"api_base": "http://g/v1"}},
        headers=admin,
    )
    assert moved.status_code == 200 and moved.json()["litellm_params"]["model"] == "openai/up-fresh"
    assert (await _call(gateway, "fresh")).status_code == 200 and upstream.seen[-1][0] == "g"
    await _ok(await gateway.client.post("/model/delete", json={"id": "m1"}, headers=admin))
    gone = await _call(gateway, "fresh")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "model_not_found"
    actions = [
        e["action"] for e in (await _ok(await gateway.client.get("/audit", headers=admin)))["data"]
    ]
    assert actions[:3] == ["model.delete", "model.update", "model.new"]


async def test_run_time_models_survive_a_restart_and_reach_other_replicas(
    make_gateway, upstream
) -> None:
    async with make_gateway() as first:
        await _ok(await first.client.post("/model/new", json=_new(id="m1"), headers=first.auth()))
        async with make_gateway() as second:  # same database: another replica
            assert (await _call(second, "fresh")).status_code == 200
            await _ok(
                await first.client.post(
                    "/model/new", json=_new("later", id="m2"), headers=first.auth()
                )
            )
            assert (await _call(second, "later")).status_code == 404
            await second.gw.models.sync()  # what its refresh loop does every models_refresh_s
            assert (await _call(second, "later")).status_code == 200
    async with make_gateway() as restarted:
        assert (await _call(restarted, "fresh")).status_code == 200


async def test_a_db_deployment_joins_a_yaml_group(gateway, upstream) -> None:
    await _ok(
        await gateway.client.post(
            "/model/new", json=_new("chat", host="z", id="z"), headers=gateway.auth()
        )
    )
    upstream.down.update({"a", "b"})
    answer = await _call(gateway, "chat")
    assert answer.status_code == 200 and answer.headers["x-inferstack-deployment"] == "z"


async def test_bad_model_definitions_name_the_field(gateway) -> None:
    admin = gateway.auth()
    cases = [
        ({"model_name": "x", "litellm_params": {"model": "up"}}, "litellm_params.api_base"),
        (
            {"model_name": "x", "litellm_params": {"api_base": "http://h/v1", "colour": 1}},
            "litellm_params.colour",
        ),
        (
            {"model_name": "x", "litellm_params": {"api_base": "http://h/v1", "rpm": -1}},
            "litellm_params.rpm",
        ),
        (
            {
                "model_name": "x",
                "litellm_params": {"api_base": "http://h/v1"},
                "model_info": {"id": "a"},
            },
            "model_info.id",
        ),
        ({"litellm_params": {"api_base": "http://h/v1"}}, "model_name"),
    ]
    for body, param in cases:
        response = await gateway.client.post("/model/new", json=body, headers=admin)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["param"] == param
    yaml = await gateway.client.post("/model/update", json={"model_id": "a"}, headers=admin)
    assert yaml.status_code == 400 and yaml.json()["error"]["param"] == "model_id"
    missing = await gateway.client.post("/model/delete", json={"id": "nope"}, headers=admin)
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "model_id"


async def test_access_groups_and_roles(gateway) -> None:
    admin = gateway.auth()
    await _ok(
        await gateway.client.post(
            "/model/new", json=_new("beta-1", id="b1", access_groups=["beta"]), headers=admin
        )
    )
    await _ok(
        await gateway.client.post(
            "/model/new", json=_new("beta-2", id="b2", access_groups=["beta"]), headers=admin
        )
    )
    key = await gateway.new_key(models=["beta"])
    assert (await _call(gateway, "beta-1", key)).status_code == 200
    assert (await _call(gateway, "beta-2", key)).status_code == 200
    assert (await _call(gateway, "chat", key)).status_code == 403
    listed = await _ok(await gateway.client.get("/v1/models", headers=gateway.auth(key)))
    assert sorted(m["id"] for m in listed["data"]) == ["beta-1", "beta-2"]
    # a team that lists the group lends it to its keys
    await _ok(
        await gateway.client.post(
            "/team/new", json={"team_id": "t", "models": ["beta"]}, headers=admin
        )
    )
    made = await _ok(
        await gateway.client.post(
            "/key/generate", json={"team_id": "t", "models": ["all-team-models"]}, headers=admin
        )
    )
    assert (await _call(gateway, "beta-2", made["key"])).status_code == 200
    assert (await _call(gateway, "chat", made["key"])).status_code == 403

    for user, role in (("ann", "internal_user"), ("vic", "proxy_admin_viewer")):
        await _ok(
            await gateway.client.post(
                "/user/new", json={"user_id": user, "user_role": role}, headers=admin
            )
        )
    ann = (
        await _ok(
            await gateway.client.post("/key/generate", json={"user_id": "ann"}, headers=admin)
        )
    )["key"]
    vic = (
        await _ok(
            await gateway.client.post("/key/generate", json={"user_id": "vic"}, headers=admin)
        )
    )["key"]
    assert (
        await gateway.client.post("/model/new", json=_new(), headers=gateway.auth(ann))
    ).status_code == 403
    assert (
        await gateway.client.post("/model/new", json=_new(), headers=gateway.auth(vic))
    ).status_code == 403
    assert (await gateway.client.get("/model/info", headers=gateway.auth(vic))).status_code == 200
    assert (await gateway.client.get("/model/info", headers=gateway.auth(ann))).status_code == 403
