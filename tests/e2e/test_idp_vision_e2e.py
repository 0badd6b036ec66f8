"""The IDP's vision reader on the real parts: `inferstack idp process --reader vision` through
the real gateway. No vision model can run on these machines, so the two real behaviours are
(1) the real model server with the default text-only model refusing the page image with an
OpenAI 400 that names the part, which the IDP reports naming the document and page, and
(2) a stand-in vision model (real OpenAI HTTP, answering from the pixels it gets) behind a real
gateway deployment, which shows the gateway forwards the image parts intact and the lines feed
the real default model's extraction."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from jsonschema import Draft202012Validator
from PIL import Image

from inferstack.idp.schemas import BUILTIN_SCHEMAS
from inferstack.idp.settings import IdpSettings
from inferstack.idp.vision import encode_page, vision_request
from support.gateway import Gateway, start_gateway, stop_gateway, virtual_key
from support.idp_docs import INVOICE_LINES, render_image, run_idp
from support.servers import RunningServer
from support.vision_standin import VisionStandIn, image_parts

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def standin() -> Iterator[VisionStandIn]:
    server = VisionStandIn(model="standin-vision")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway(
    chat_server: RunningServer, standin: VisionStandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Gateway, str]]:
    tmp = tmp_path_factory.mktemp("vision-gw")
    groups = {
        "chat": {"deployments": [{"api_base": chat_server.base_url, "model": chat_server.model}]},
        # the deployment's model differs from the group: the gateway rewrites the body's model
        # and re-serialises it, the path where image parts could be lost or changed
        "vision": {"deployments": [{"api_base": standin.base_url, "model": "standin-vision"}]},
    }
    gw = start_gateway(tmp, chat_server.url, chat_server.model, None, model_groups=groups)
    yield gw, virtual_key(gw, ["chat", "vision"])
    stop_gateway(gw)


def _page_url(path: Path) -> str:
    return encode_page(Image.open(path), IdpSettings().vision_max_side).url


def test_a_text_only_model_refuses_the_page_with_a_400_naming_the_part(
    gateway: tuple[Gateway, str], tmp_path: Path
) -> None:
    gw, key = gateway
    png = tmp_path / "invoice.png"
    render_image(png, INVOICE_LINES)
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0)
    body = vision_request(
        IdpSettings(reader="vision", vision_model="chat"), encode_page(Image.open(png), 1600)
    )
    for stream in (False, True):
        with pytest.raises(openai.BadRequestError) as info:
            client.chat.completions.create(**{**body, "stream": stream})
        error = info.value.body
        assert isinstance(error, dict), error
        assert error["param"] == "messages.1.content.1", error
        assert error["type"] == "invalid_request_error" and error["code"] == "unsupported"
        assert "'image_url'" in error["message"]

    run = run_idp(
        "process", str(png), "--reader", "vision", "--vision-model", "chat",
        "--url", gw.url, "--api-key", key, "--state-dir", str(tmp_path / "state"),
    )  # fmt: skip
    assert run.returncode == 2, run.stdout + run.stderr
    assert "invoice.png page 1: vision model 'chat' answered 400 invalid_request_error" in (
        run.stderr
    )
    assert "(param messages.1.content.1)" in run.stderr and "Traceback" not in run.stderr
    # never OCR'd behind the user's back: nothing was stored
    assert run.stdout == ""


def test_the_gateway_forwards_page_images_intact_to_a_vision_deployment(
    gateway: tuple[Gateway, str],
    standin: VisionStandIn,
    chat_server: RunningServer,
    tmp_path: Path,
) -> None:
    gw, key = gateway
    png = tmp_path / "invoice.png"
    render_image(png, INVOICE_LINES)
    before = len(standin.requests)
    run = run_idp(
        "process", str(png), "--reader", "vision", "--vision-model", "vision",
        "--chat-model", "chat", "--url", gw.url, "--api-key", key,
        "--state-dir", str(tmp_path / "state"), "--json",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    [body] = standin.requests[before:]  # one page, one vision request (extraction: real model)
    assert standin.spec_errors[before:] == [[]]
    settings = IdpSettings(reader="vision", vision_model="vision")
    expected = vision_request(settings, encode_page(Image.open(png), settings.vision_max_side))
    assert body == {**expected, "model": "standin-vision"}  # only the deployment's model differs
    [part] = image_parts(body)
    assert part["image_url"]["url"] == _page_url(png)
    header, _, data = part["image_url"]["url"].partition(",")
    assert header == "data:image/png;base64" and base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"

    [doc] = json.loads(run.stdout)["documents"]
    schema = BUILTIN_SCHEMAS["invoice"]
    assert not list(Draft202012Validator(schema).iter_errors(doc["values"]))
    assert doc["model"] == chat_server.model  # the real default model extracted the fields
    evidence = [f["evidence"] for f in doc["fields"].values() if f["evidence"] is not None]
    assert evidence, doc["fields"]  # a model that copies nothing would leave no evidence
    for ev in evidence:
        assert ev["source"] == "vision" and ev["ocr_confidence"] is None
        assert ev["box"] is not None and ev["box"][2] > 0
        planted = {word for line in INVOICE_LINES for word in line.split()}
        assert {w["text"] for w in ev["words"]} <= planted, ev  # words the stand-in read
    info: dict[str, Any] = next(iter(doc["fields"].values()))
    assert info["calibrated"] is False  # the shipped map was fitted on OCR'd pages
