"""Profiles as data: validation, what is missing, round trips, the packaged set and sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferstack.plan.profiles import (
    Profile,
    ProfileError,
    load_profile,
    load_profiles,
    packaged_profiles,
    save_profile,
)
from plan.toys import make_profile


def test_points_are_sorted_and_unique() -> None:
    p = make_profile(
        points=[
            {"concurrency": 4, "decode_tok_per_s": 100},
            {"concurrency": 1, "decode_tok_per_s": 50},
        ]
    )
    assert [pt.concurrency for pt in p.points] == [1, 4]
    with pytest.raises(ValueError, match="duplicate concurrency"):
        make_profile(points=[{"concurrency": 1, "decode_tok_per_s": 1}] * 2)


def test_step_time_falls_back_to_concurrency_over_rate() -> None:
    p = make_profile(points=[{"concurrency": 4, "decode_tok_per_s": 100}])
    assert p.points[0].step_s == pytest.approx(0.04)
    assert "ITL (derived from concurrency / rate)" in p.missing()
    assert "single-stream point" in p.missing()


def test_round_trip(tmp_path: Path, toy: Profile) -> None:
    save_profile(toy, tmp_path / "p.yaml")
    assert load_profile(tmp_path / "p.yaml") == toy


def test_a_bad_file_names_itself(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("name: x\n")
    with pytest.raises(ProfileError, match=r"bad\.yaml: not a valid profile"):
        load_profile(tmp_path / "bad.yaml")


def test_packaged_profiles_record_their_sources() -> None:
    profiles = packaged_profiles()
    assert {p.name for p in profiles} >= {
        "published-llama3.1-8b-fp16-vllm-h100",
        "published-llama3.1-8b-q4km-llamacpp-graviton3",
        "gemma3-270m-q4km-inferstack-local",
    }
    for p in profiles:
        assert p.source.reference, p.name
        if p.source.kind == "published":
            assert p.source.reference.startswith("https://"), p.name
        else:
            assert p.source.reference.startswith("inferstack bench"), p.name


def test_a_file_replaces_the_packaged_profile_of_its_name(tmp_path: Path) -> None:
    name = packaged_profiles()[0].name
    save_profile(make_profile(name=name), tmp_path / "mine.yaml")
    mine = [p for p in load_profiles([str(tmp_path / "mine.yaml")]) if p.name == name]
    assert len(mine) == 1 and mine[0].model == "toy-1b"
