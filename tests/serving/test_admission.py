import pytest

from inferstack.errors import OverloadedError
from inferstack.serving.admission import Admission


def test_admission_refuses_past_running_plus_waiting() -> None:
    admission = Admission(max_running=2, max_waiting=1, retry_after=3)
    for _ in range(3):
        admission.acquire()
    with pytest.raises(OverloadedError) as info:
        admission.acquire()
    assert info.value.status == 429
    assert info.value.headers["Retry-After"] == "3"
    admission.release()
    admission.acquire()


def test_slot_context_releases_on_error() -> None:
    admission = Admission(max_running=1, max_waiting=0, retry_after=1)
    with pytest.raises(ValueError), admission.slot():
        raise ValueError
    assert admission.in_flight == 0
