"""RayAppArgs: the one definition of the Ray Serve builder's arguments."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from inferstack.deploy.serve_config import serve_config_errors
from inferstack.serving.ray_args import RayAppArgs


def test_defaults_reserve_one_cpu_per_thread() -> None:
    args = RayAppArgs.model_validate({"model": "default", "threads": 3})
    assert args.deployment_options() == {
        "max_ongoing_requests": 32,
        "max_queued_requests": 64,
        "backpressure_config": {"status_code": 429, "retry_after_s": 1.0},
        "ray_actor_options": {"num_cpus": 3.0},
        "num_replicas": 1,
    }


def test_overload_is_shed_with_429_not_queued_without_bound() -> None:
    options = RayAppArgs.model_validate({"max_queued_requests": 0, "retry_after_s": 2.5})
    opts = options.deployment_options()
    assert opts["max_queued_requests"] == 0
    assert opts["backpressure_config"] == {"status_code": 429, "retry_after_s": 2.5}
    with pytest.raises(ValidationError, match="max_queued_requests"):
        RayAppArgs.model_validate({"max_queued_requests": -1})  # Serve's "no limit"
    # Serve itself accepts the options (the shape of backpressure_config included).
    from ray.serve.config import BackpressureConfig

    assert BackpressureConfig.model_validate(opts["backpressure_config"]).status_code == 429


def test_autoscaling_options() -> None:
    args = RayAppArgs.model_validate(
        {
            "autoscaling_config": {
                "min_replicas": 1,
                "max_replicas": 4,
                "target_ongoing_requests": 8,
                "upscale_delay_s": 10,
                "downscale_delay_s": 60,
            },
            "ray_actor_options": {"num_cpus": 4, "num_gpus": 1},
        }
    )
    options = args.deployment_options()
    assert "num_replicas" not in options
    assert options["autoscaling_config"]["max_replicas"] == 4
    assert options["ray_actor_options"] == {"num_cpus": 4.0, "num_gpus": 1.0}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ({"treads": 2}, "treads"),
        ({"engine": "onnx"}, "engine"),
        ({"num_replicas": 2, "autoscaling_config": {"target_ongoing_requests": 2}}, "not both"),
        (
            {
                "autoscaling_config": {
                    "min_replicas": 3,
                    "max_replicas": 2,
                    "target_ongoing_requests": 1,
                }
            },
            "exceeds max_replicas",
        ),
        (
            {"autoscaling_config": {"max_replicas": 2, "target_ongoing_request": 1}},
            "target_ongoing",
        ),
        ({"vllm": {"tensor_parallel_size": 2}}, "applies only to engine"),
        (
            {
                "engine": "vllm",
                "vllm": {"tensor_parallel_size": 2},
                "ray_actor_options": {"num_cpus": 4, "num_gpus": 1},
            },
            "tensor_parallel_size",
        ),
        ({"ray_actor_options": {"num_cpu": 2}}, "num_cpu"),
        ({"max_ongoing_requests": 0}, "max_ongoing_requests"),
    ],
)
def test_bad_args_are_rejected(args: dict, needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        RayAppArgs.model_validate(args)


def test_vllm_args_become_engine_settings() -> None:
    args = RayAppArgs.model_validate(
        {
            "engine": "vllm",
            "ctx_size": 8192,
            "parallel": 64,
            "vllm": {"gpu_memory_utilization": 0.85, "tensor_parallel_size": 2},
            "ray_actor_options": {"num_cpus": 4, "num_gpus": 2},
        }
    )
    assert args.engine_options() == {
        "max_model_len": 8192,
        "max_num_seqs": 64,
        "gpu_memory_utilization": 0.85,
        "tensor_parallel_size": 2,
        "dtype": "auto",
        "enforce_eager": False,
    }


def test_serve_config_checks_import_path_and_args() -> None:
    good = """
applications:
  - name: chat
    route_prefix: /
    import_path: inferstack.serving.ray_app:build_app
    args: {model: default, threads: 2, num_replicas: 1}
"""
    assert serve_config_errors(good) == []
    bad = good.replace("ray_app:build_app", "ray_app:build").replace("threads", "thread")
    errors = serve_config_errors(bad)
    assert any("import_path" in e for e in errors), errors
    assert any("args.thread" in e for e in errors), errors
    assert serve_config_errors("applications: []\nproxy_locaton: EveryNode\n")
