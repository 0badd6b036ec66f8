"""Fixtures of the planner's tests."""

from __future__ import annotations

import pytest

from inferstack.plan.profiles import Profile
from plan.toys import make_profile


@pytest.fixture
def toy() -> Profile:
    return make_profile()
