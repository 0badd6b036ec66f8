"""Teams, users and a model added at run time, through the real gateway process in front of the
real model server, on SQLite and a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from support.gateway import Gateway, start_gateway, stop_gateway
from support.services import postgres_cluster, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_cluster() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def gateway(request, chat_server, tmp_path) -> Iterator[Gateway]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    gw = start_gateway(tmp_path, chat_server.url, chat_server.model, url)
    yield gw
    stop_gateway(gw)


def test_a_team_member_streams_from_a_model_added_at_run_time(gateway, chat_server) -> None:
    admin = httpx.Client(
        base_url=gateway.url, headers={"Authorization": f"Bearer {gateway.master}"}, timeout=60
    )
    new_model = {
        "model_name": "runtime-chat",
        "litellm_params": {
            "model": "openai/" + chat_server.model,
            "api_base": chat_server.url + "/v1",
            "input_cost_per_token": 0.000001,
            "output_cost_per_token": 0.000002,
        },
        "model_info": {"access_groups": ["runtime"]},
    }
    made = admin.post("/model/new", json=new_model)
    assert made.status_code == 200, made.text
    assert admin.post("/user/new", json={"user_id": "ann"}).status_code == 200
    team = {
        "team_id": "red",
        "models": ["runtime"],
        "max_budget": 5,
        "members_with_roles": [{"user_id": "ann", "role": "user"}],
    }
    assert admin.post("/team/new", json=team).status_code == 200
    key = admin.post("/key/generate", json={"user_id": "ann", "team_id": "red"}).json()["key"]

    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0)
    assert [m.id for m in client.models.list().data] == ["runtime-chat"]
    prompt = [{"role": "user", "content": "Q: What is the capital of France?\nA:"}]
    chunks = list(
        client.chat.completions.create(
            model="runtime-chat", messages=prompt, max_tokens=8, temperature=0, stream=True
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    with pytest.raises(openai.PermissionDeniedError):  # "chat" is not in the team's models
        client.chat.completions.create(model="chat", messages=prompt, max_tokens=2)

    def logged() -> list[dict]:
        page = admin.get("/spend/logs", params={"paginate": "true", "team_id": "red"}).json()
        return [row for row in page["data"] if row["status_code"] == 200]

    wait_until(lambda: len(logged()) == 1, 30, "the request in the spend log")
    row = logged()[0]
    assert row["user_id"] == "ann" and row["model_group"] == "runtime-chat"
    assert row["deployment"] == made.json()["model_id"] and row["completion_tokens"] > 0
    top = admin.get("/usage/top", params={"group_by": "team"}).json()["data"]
    assert top[0]["group"] == "red" and top[0]["cost"] == pytest.approx(row["cost"])
    team_info = admin.get("/team/info", params={"team_id": "red"}).json()["team_info"]
    assert team_info["spend"] == pytest.approx(row["cost"])
    info = admin.get("/model/info").json()["data"]
    runtime = [m for m in info if m["model_name"] == "runtime-chat"]
    assert runtime[0]["model_info"]["db_model"] is True and runtime[0]["health"]["healthy"]
