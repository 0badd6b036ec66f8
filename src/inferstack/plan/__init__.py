"""``inferstack plan``: what a load costs on each pool, and how it autoscales.

Throughput profiles (measured with ``inferstack bench --profile``, or published figures with
their source) and instance prices (data, never fetched) feed a discrete-event simulator of
batched replicas under Ray Serve's autoscaling; the planner sizes each pool for a workload and
an SLO, finds the cheapest and the GPU-vs-CPU crossover load, and can price self-hosted
deployments in the gateway's config.

It is a tool: it never imports the engines, models or serving packages.
"""

from inferstack.plan.autoscaling import Autoscaler, AutoscalingConfig
from inferstack.plan.planner import PoolOption, PoolPlan, crossover, plan_pool, pool_options
from inferstack.plan.prices import Capacity, PriceTable, load_prices
from inferstack.plan.profiles import Profile, ProfilePoint, ProfileSource, load_profiles
from inferstack.plan.service import ServiceModel
from inferstack.plan.simulator import PoolSpec, SimResult, simulate
from inferstack.plan.workload import Length, SimRequest, Slo, parse_length

__all__ = [
    "Autoscaler",
    "AutoscalingConfig",
    "Capacity",
    "Length",
    "PoolOption",
    "PoolPlan",
    "PoolSpec",
    "PriceTable",
    "Profile",
    "ProfilePoint",
    "ProfileSource",
    "ServiceModel",
    "SimRequest",
    "SimResult",
    "Slo",
    "crossover",
    "load_prices",
    "load_profiles",
    "parse_length",
    "plan_pool",
    "pool_options",
    "simulate",
]
