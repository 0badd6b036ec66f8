"""`inferstack serve` flags become the chosen engine's settings."""

from __future__ import annotations

import argparse

import pytest

from inferstack.cli.serve import add_parser, engine_options


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    return parser.parse_args(["serve", *argv])


def test_vllm_flags_use_vllm_names() -> None:
    args = parse(
        "--engine",
        "vllm",
        "--ctx-size",
        "4096",
        "--parallel",
        "32",
        "--gpu-memory-utilization",
        "0.8",
        "--tensor-parallel-size",
        "2",
        "--enforce-eager",
    )
    assert engine_options(args) == {
        "max_model_len": 4096,
        "max_num_seqs": 32,
        "gpu_memory_utilization": 0.8,
        "tensor_parallel_size": 2,
        "enforce_eager": True,
    }


def test_llamacpp_flags_keep_their_names() -> None:
    args = parse("--ctx-size", "2048", "--threads", "2", "--copy-bias", "0", "--mask-threads", "0")
    assert engine_options(args) == {
        "ctx_size": 2048,
        "threads": 2,
        "copy_bias": 0.0,
        "mask_threads": 0,
    }


def test_llamacpp_only_flags_are_refused_for_vllm() -> None:
    with pytest.raises(SystemExit, match="--threads does not apply"):
        engine_options(parse("--engine", "vllm", "--threads", "2"))
    with pytest.raises(SystemExit, match="--copy-bias does not apply"):
        engine_options(parse("--engine", "vllm", "--copy-bias", "1"))
    with pytest.raises(SystemExit, match="--mask-threads does not apply"):
        engine_options(parse("--engine", "vllm", "--mask-threads", "0"))
