"""inferstack's OpenAI-compatible gateway: routing, virtual keys, budgets, limits, usage and cost.

``build_gateway_app(GatewaySettings.from_sources("gateway.yaml"))`` returns the ASGI app.
"""

from inferstack.gateway.app import Gateway, build_gateway_app
from inferstack.gateway.masterkey import ensure_master_key
from inferstack.gateway.settings import GatewaySettings

__all__ = ["Gateway", "GatewaySettings", "build_gateway_app", "ensure_master_key"]
