"""``inferstack plan``: size and price pools for a load and an SLO (see :mod:`inferstack.plan`).

    inferstack plan --rate 2 --prompt-tokens 200 --output-tokens lognormal:200,0.5 \\
        --ttft-ms 2000 --itl-ms 150 --params-b 8 --loads 0.01,0.1,1,10 --output DIR
    inferstack plan simulate --profile NAME --trace trace.csv --chart-values values.yaml \\
        --chart-model chat --recommend --output DIR
    inferstack plan validate --profile prof.yaml --bench open-loop/results.json
    inferstack plan gateway-prices --config gateway.yaml --group default --profile NAME --rate 2
    inferstack plan profiles
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]


def _floats(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers: {text!r}") from exc


def _workload_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("workload and SLO")
    g.add_argument("--rate", type=float, default=None, help="Poisson arrivals, requests/s")
    g.add_argument("--trace", default=None, help="CSV/JSONL of arrival_s[,prompt_tokens,...]")
    g.add_argument("--duration", type=float, default=600.0, help="seconds of --rate (600)")
    g.add_argument("--prompt-tokens", default="200", help="N, uniform:A-B, lognormal:MEAN,SIGMA")
    g.add_argument("--output-tokens", default="200", help="N, uniform:A-B, lognormal:MEAN,SIGMA")
    g.add_argument("--ttft-ms", type=float, default=2000.0, help="TTFT limit (2000)")
    g.add_argument("--itl-ms", type=float, default=200.0, help="mean inter-token limit (200)")
    g.add_argument("--attainment", type=float, default=0.95, help="share meeting SLO (0.95)")
    g.add_argument("--seed", type=int, default=0, help="seed of arrivals and lengths")


def _profile_options(p: argparse.ArgumentParser, many: bool) -> None:
    g = p.add_argument_group("profiles and prices")
    g.add_argument(
        "--profile",
        action="append" if many else "store",
        default=[] if many else None,
        help="a profile YAML file or a packaged profile's name" + (" (repeatable)" if many else ""),
    )
    g.add_argument("--prices", default=None, help="YAML of prices replacing packaged ones")
    g.add_argument("--capacity", choices=("on-demand", "spot"), default="on-demand")
    g.add_argument(
        "--pool",
        action="append",
        default=[],
        metavar="PROFILE=INSTANCE[:N]",
        help="price PROFILE on INSTANCE with N replicas per node (repeatable)",
    )
    g.add_argument("--min-replicas", type=int, default=1, help="replicas always up (1)")


def add_parser(subparsers: Any) -> None:
    """Register ``inferstack plan`` and its subcommands."""
    p = subparsers.add_parser(
        "plan",
        help="cost and size pools for a load and SLO; autoscaling simulator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _workload_options(p)
    _profile_options(p, many=True)
    p.add_argument("--no-packaged", action="store_true", help="only the --profile files")
    p.add_argument("--model", default=None, help="only profiles whose model contains this")
    p.add_argument("--params-b", type=float, default=None, help="only models of ~this size (B)")
    p.add_argument("--loads", type=_floats, default=None, help="rates for the crossover table")
    p.add_argument("--output", default=None, help="folder for plan.md, plan.json and plots")
    p.add_argument("--no-plots", action="store_true", help="skip PNG plots")
    sub = p.add_subparsers(
        dest="plan_command", metavar="{simulate,validate,gateway-prices,profiles}"
    )
    s = sub.add_parser("simulate", help="replay a trace through one pool with autoscaling")
    _workload_options(s)
    _profile_options(s, many=False)
    s.add_argument("--chart-values", default=None, help="chart values file (autoscaling_config)")
    s.add_argument("--chart-model", default="chat", help="its model key: chat, vllm, ...")
    s.add_argument(
        "--autoscaling",
        type=json.loads,
        default=None,
        metavar="JSON",
        help="an autoscaling_config as JSON (instead of the chart's)",
    )
    s.add_argument(
        "--max-ongoing-requests",
        type=int,
        default=None,
        help="per replica (default: the chart's, else Ray Serve's 5)",
    )
    s.add_argument("--node-provision-s", type=float, default=90.0, help="node launch time (90)")
    s.add_argument("--model-load-s", type=float, default=None, help="replica load time")
    s.add_argument("--recommend", action="store_true", help="search autoscaling_config values")
    s.add_argument("--output", default=None, help="folder for simulate.json/md and a plot")
    v = sub.add_parser("validate", help="simulated vs measured for an open-loop bench run")
    v.add_argument("--profile", required=True, help="profile file or packaged name")
    v.add_argument("--bench", required=True, help="results.json of `inferstack bench --rate`")
    v.add_argument("--json", default=None, help="also write the comparison here")
    gp = sub.add_parser("gateway-prices", help="write derived prices into a gateway config")
    _workload_options(gp)
    _profile_options(gp, many=False)
    gp.add_argument("--config", required=True, help="gateway YAML file")
    gp.add_argument("--group", required=True, help="model group whose deployments to price")
    gp.add_argument("--mode", choices=("per-token", "per-second"), default="per-token")
    gp.add_argument("--out", default=None, help="write here instead of in place")
    sub.add_parser("profiles", help="list the packaged profiles, their sources and gaps")
    p.set_defaults(func=run)


def _slo(args: argparse.Namespace) -> Any:
    from inferstack.plan.workload import Slo

    return Slo(ttft_ms=args.ttft_ms, itl_ms=args.itl_ms, attainment=args.attainment)


def _requests(args: argparse.Namespace) -> tuple[list[Any], float]:
    from inferstack.plan.workload import (
        load_trace,
        parse_length,
        poisson_offsets,
        synthetic_requests,
    )

    prompt, output = parse_length(args.prompt_tokens), parse_length(args.output_tokens)
    if args.trace:
        reqs = load_trace(args.trace, prompt, output, args.seed)
        span = max(reqs[-1].arrival, 1e-9)
        return reqs, len(reqs) / span
    if not args.rate:
        raise SystemExit("plan: give --rate R or --trace FILE")
    offsets = poisson_offsets(args.rate, None, args.duration, args.seed)
    return synthetic_requests(offsets, prompt, output, args.seed), args.rate


def _one_profile(spec: str) -> Any:
    from inferstack.plan.profiles import load_profile, packaged_profiles

    if Path(spec).is_file():
        return load_profile(spec)
    for profile in packaged_profiles():
        if profile.name == spec:
            return profile
    raise SystemExit(f"plan: no profile file or packaged profile named {spec!r}")


def _select(args: argparse.Namespace) -> list[Any]:
    from inferstack.plan.profiles import packaged_profiles

    profiles = [] if args.no_packaged else packaged_profiles()
    names = {p.name for p in profiles}
    for spec in args.profile:
        extra = _one_profile(spec)
        if extra.name not in names:
            profiles.append(extra)
    if args.model:
        profiles = [p for p in profiles if args.model.lower() in p.model.lower()]
    if args.params_b:
        profiles = [
            p
            for p in profiles
            if p.params_b and abs(p.params_b - args.params_b) <= 0.25 * args.params_b
        ]
    if not profiles:
        raise SystemExit("plan: no profile matches (see `inferstack plan profiles`)")
    return profiles


def _options(args: argparse.Namespace, profiles: list[Any]) -> list[Any]:
    from inferstack.plan.planner import pool_options
    from inferstack.plan.prices import Capacity, load_prices

    overrides = dict(p.partition("=")[::2] for p in args.pool)
    return pool_options(
        profiles, load_prices(args.prices), Capacity(args.capacity), overrides, args.min_replicas
    )


def _run_plan(args: argparse.Namespace) -> int:
    from inferstack.plan.planner import crossover, plan_pool
    from inferstack.plan.prices import load_prices
    from inferstack.plan.report import PlanReport, write_report
    from inferstack.plan.workload import parse_length

    prompt, output = parse_length(args.prompt_tokens), parse_length(args.output_tokens)
    _, rate = _requests(args)
    slo = _slo(args)
    options = _options(args, _select(args))
    plans = [plan_pool(o, rate, prompt, output, slo, seed=args.seed) for o in options]
    ok = [
        p
        for p in plans
        if p.feasible and p.usd_per_hour is not None and (p.slo_attainment or 0) >= slo.attainment
    ]
    cheapest = min(ok, key=lambda p: p.usd_per_hour or 0).pool if ok else None
    loads, cross = ([], None)
    if args.loads:
        loads, cross = crossover(options, args.loads, prompt, output, slo)
    report = PlanReport(
        command="inferstack " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        workload={"rate": rate, "prompt": str(prompt), "output": str(output)},
        slo=slo.model_dump(),
        prices=load_prices(args.prices).source,
        pools=plans,
        cheapest=cheapest,
        loads=loads,
        crossover_rps=cross,
    )
    from inferstack.plan.report import plan_markdown

    if args.output:
        out = Path(args.output)
        pngs = [] if args.no_plots or not args.loads else _plan_plots(options, args, out)
        files = write_report(report, out, pngs)
        print("wrote " + ", ".join(str(out / f) for f in files))
    else:
        print(plan_markdown(report, []))
    return 0


def _plan_plots(options: list[Any], args: argparse.Namespace, out: Path) -> list[str]:
    from inferstack.plan.planner import plan_pool
    from inferstack.plan.plots import plot_cost_vs_load, plot_slo_vs_load
    from inferstack.plan.workload import parse_length

    prompt, output = parse_length(args.prompt_tokens), parse_length(args.output_tokens)
    slo = _slo(args)
    curves = {
        o.name: [plan_pool(o, r, prompt, output, slo, seed=args.seed) for r in args.loads]
        for o in options
    }
    out.mkdir(parents=True, exist_ok=True)
    title = f"prompt {prompt}, output {output}; SLO: {slo}"
    plot_cost_vs_load(curves, args.loads, out / "cost_vs_load.png", title)
    plot_slo_vs_load(curves, args.loads, out / "slo_vs_load.png", title)
    return ["cost_vs_load.png", "slo_vs_load.png"]


def _autoscaling(args: argparse.Namespace) -> tuple[Any, int]:
    """The autoscaling_config and max_ongoing_requests to simulate (flags, else the chart's)."""
    import yaml

    from inferstack.plan.autoscaling import AutoscalingConfig

    ray_default_max_ongoing = 5
    config, max_ongoing = None, args.max_ongoing_requests
    if args.chart_values:
        values = yaml.safe_load(Path(args.chart_values).read_text(encoding="utf-8"))
        try:
            serve = values[args.chart_model]["serve"]
            raw = serve["autoscaling_config"]
        except (KeyError, TypeError) as exc:
            raise SystemExit(
                f"plan simulate: {args.chart_values} has no "
                f"{args.chart_model}.serve.autoscaling_config"
            ) from exc
        config = AutoscalingConfig.model_validate(raw)
        max_ongoing = max_ongoing or serve.get("max_ongoing_requests")
    if args.autoscaling is not None:
        config = AutoscalingConfig.model_validate(args.autoscaling)
    return config, max_ongoing or ray_default_max_ongoing


def _run_simulate(args: argparse.Namespace) -> int:
    from inferstack.plan.planner import pool_options
    from inferstack.plan.prices import Capacity, load_prices
    from inferstack.plan.recommend import recommend_autoscaling
    from inferstack.plan.service import ServiceModel
    from inferstack.plan.simulator import PoolSpec, simulate

    if not args.profile:
        raise SystemExit("plan simulate: give --profile")
    profile = _one_profile(args.profile)
    overrides = dict(p.partition("=")[::2] for p in args.pool)
    option = pool_options(
        [profile], load_prices(args.prices), Capacity(args.capacity), overrides, args.min_replicas
    )[0]
    reqs, _ = _requests(args)
    slo = _slo(args)
    load_s = args.model_load_s if args.model_load_s is not None else (profile.model_load_s or 30.0)
    autoscaling, max_ongoing = _autoscaling(args)
    spec = PoolSpec(
        price_per_node_hour=option.price_per_node_hour or 0.0,
        replicas_per_node=option.replicas_per_node,
        replicas=max(args.min_replicas, 1),
        autoscaling=autoscaling,
        max_ongoing_requests=max_ongoing,
        node_provision_s=args.node_provision_s,
        model_load_s=load_s,
    )
    model = ServiceModel(profile)
    result = simulate(model, spec, reqs, slo)
    from inferstack.plan.stats import slo_windows

    out: dict[str, Any] = {
        "pool": option.name,
        "spec": spec.model_dump(mode="json"),
        "summary": result.summary.model_dump(),
        "slo_over_time": slo_windows(result.recorder, slo),
        "timeline": result.timeline[:: max(1, len(result.timeline) // 400)],
    }
    if args.recommend:
        top = spec.autoscaling.max_replicas if spec.autoscaling else 8
        best, tried = recommend_autoscaling(model, spec, reqs, slo, max_replicas=top)
        out["recommended_autoscaling_config"] = best.config.chart_values() if best else None
        out["candidates"] = [
            {
                "config": c.config.chart_values(),
                "cost_usd": c.summary.cost_usd,
                "slo_attainment": c.summary.slo_attainment,
            }
            for c in tried
        ]
    text = json.dumps(out, indent=2)
    if args.output:
        folder = Path(args.output)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "simulate.json").write_text(text, encoding="utf-8")
        if result.timeline:
            from inferstack.plan.plots import plot_timeline

            plot_timeline(
                result.timeline, folder / "timeline.png", option.name, out["slo_over_time"]
            )
        print(f"wrote {folder / 'simulate.json'}")
    else:
        print(text)
    return 0


def _run_validate(args: argparse.Namespace) -> int:
    from inferstack.plan.report import comparison_markdown
    from inferstack.plan.validate import compare_run, load_bench_result

    try:
        rows = compare_run(_one_profile(args.profile), load_bench_result(args.bench))
    except (OSError, ValueError, KeyError) as exc:
        raise SystemExit(f"plan validate: {exc}") from exc
    print(comparison_markdown(rows))
    if args.json:
        Path(args.json).write_text(json.dumps([r.model_dump() for r in rows], indent=2))
    return 0


def _run_gateway_prices(args: argparse.Namespace) -> int:
    from inferstack.plan.gateway_prices import deployment_price, write_gateway_prices
    from inferstack.plan.planner import plan_pool
    from inferstack.plan.workload import parse_length

    if not args.profile:
        raise SystemExit("plan gateway-prices: give --profile")
    prompt, output = parse_length(args.prompt_tokens), parse_length(args.output_tokens)
    _, rate = _requests(args)
    option = _options(args, [_one_profile(args.profile)])[0]
    plan = plan_pool(option, rate, prompt, output, _slo(args), seed=args.seed)
    e2e = None
    if args.mode == "per-second":
        from inferstack.plan.service import ServiceModel

        model = ServiceModel(option.profile)
        e2e = model.step_s(1) * output.mean
    try:
        price = deployment_price(plan, rate, output.mean, e2e, args.mode)
        write_gateway_prices(args.config, args.group, price, args.out)
    except ValueError as exc:
        raise SystemExit(f"plan gateway-prices: {exc}") from exc
    print(
        f"{args.group}: output_cost_per_million={price.output_cost_per_million:g} "
        f"cost_per_second={price.cost_per_second:g} ({price.derived_from})"
    )
    return 0


def _run_profiles() -> int:
    from inferstack.plan.profiles import packaged_profiles

    for p in packaged_profiles():
        peak = max(pt.decode_tok_per_s for pt in p.points)
        print(
            f"{p.name}: {p.model} {p.quantization or '?'} on {p.instance or p.cpu or '?'} "
            f"({p.engine}); peak {peak:g} tok/s; {p.source.kind}: {p.source.reference}"
        )
        if p.missing():
            print(f"    missing: {', '.join(p.missing())}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``inferstack plan`` (or one of its subcommands)."""
    from inferstack.plan.prices import PriceError
    from inferstack.plan.profiles import ProfileError
    from inferstack.plan.workload import WorkloadError

    command = getattr(args, "plan_command", None)
    try:
        if command == "simulate":
            return _run_simulate(args)
        if command == "validate":
            return _run_validate(args)
        if command == "gateway-prices":
            return _run_gateway_prices(args)
        if command == "profiles":
            return _run_profiles()
        return _run_plan(args)
    except (PriceError, ProfileError, WorkloadError) as exc:
        raise SystemExit(f"plan: {exc}") from exc
