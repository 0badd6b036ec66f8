"""Reference tables and HTTP lookup services from the settings, against a real HTTP server on
127.0.0.1: a value the service rejects, a service that fails and one that is not there all
refute the field (never a silent pass)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import ValidationError

from inferstack.idp.lookups import configured_validators
from inferstack.idp.settings import IdpSettings
from support.servers import free_port

REGISTRY = {"Lyon", "Porto"}


class Registry(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if body["value"] == "boom":
            self.send_response(500)
            self.end_headers()
            return
        valid = body["value"] in REGISTRY and body["schema"] == "birth_certificate"
        answer: dict[str, Any] = {"valid": valid}
        if not valid:
            answer["reason"] = "no such municipality"
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def registry_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/check"
    server.shutdown()
    server.server_close()


def _failures(settings: IdpSettings, values: dict[str, Any]) -> list[str]:
    checks = configured_validators(settings)["birth_certificate"]
    return [f.reason for check in checks for f in check(values)]


def test_a_lookup_service_accepts_or_refutes_with_its_reason(registry_url: str) -> None:
    settings = IdpSettings(lookup_urls={"birth_certificate.place_of_birth": registry_url})
    assert _failures(settings, {"place_of_birth": "Lyon"}) == []
    [reason] = _failures(settings, {"place_of_birth": "Atlantis"})
    assert "no such municipality" in reason and registry_url in reason
    [failed] = _failures(settings, {"place_of_birth": "boom"})
    assert "answered 500" in failed


def test_an_unreachable_lookup_refutes_the_field() -> None:
    url = f"http://127.0.0.1:{free_port()}/check"
    settings = IdpSettings(
        lookup_urls={"birth_certificate.place_of_birth": url}, lookup_timeout=2.0
    )
    [reason] = _failures(settings, {"place_of_birth": "Lyon"})
    assert "unreachable" in reason


def test_reference_tables_from_settings_and_their_keys() -> None:
    settings = IdpSettings(reference_tables={"birth_certificate.place_of_birth": ["Lyon"]})
    assert _failures(settings, {"place_of_birth": "lyon"}) == []
    assert _failures(settings, {"place_of_birth": "Paris"})[0].endswith("reference table")
    # the built-in checks are still there
    bad_order = {"date_of_birth": "2020-05-01", "registration_date": "2020-04-01"}
    assert any("before" in r for r in _failures(settings, bad_order))
    for bad in ({"place_of_birth": ["Lyon"]}, {".x": ["a"]}):
        with pytest.raises(ValidationError):
            IdpSettings(reference_tables=bad)
    with pytest.raises(ValidationError):
        IdpSettings(lookup_urls={"a.b": "file:///etc/passwd"})
