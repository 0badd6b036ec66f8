"""Console settings and the sign-in throttle."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from inferstack.console.auth import LoginThrottle
from inferstack.console.settings import ConsoleSettings
from inferstack.errors import RateLimitError


def test_a_trace_link_template_must_be_an_http_url_with_the_trace_id() -> None:
    good = "https://phoenix.example/redirects/traces/{trace_id}"
    assert ConsoleSettings(trace_url_template=good).trace_url_template == good
    for bad in ("https://phoenix.example/traces/", "javascript:alert(1)//{trace_id}"):
        with pytest.raises(ValidationError):
            ConsoleSettings(trace_url_template=bad)
    with pytest.raises(ValidationError):
        ConsoleSettings(session_ttl_s=10)  # under a minute
    with pytest.raises(ValidationError):
        ConsoleSettings(unknown=True)


def test_failed_sign_ins_count_per_address_for_a_minute() -> None:
    now = [0.0]
    throttle = LoginThrottle(per_minute=2, clock=lambda: now[0])
    throttle.failed("10.0.0.1")
    throttle.check("10.0.0.1")
    throttle.failed("10.0.0.1")
    with pytest.raises(RateLimitError) as refused:
        throttle.check("10.0.0.1")
    assert refused.value.headers["Retry-After"] == "60"
    throttle.check("10.0.0.2")  # another address is not held back
    now[0] = 30.0
    with pytest.raises(RateLimitError) as refused:
        throttle.check("10.0.0.1")
    assert refused.value.headers["Retry-After"] == "30"
    now[0] = 60.0
    throttle.check("10.0.0.1")  # the first failures left the window
