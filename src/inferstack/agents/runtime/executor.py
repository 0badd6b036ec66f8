"""Running the tool calls of one model turn: in parallel, each under a timeout, every failure
returned to the model as the tool's result."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping

from inferstack.agents.runtime.events import CallRecord
from inferstack.agents.tools import Tool, ToolError, ToolOutput

__all__ = ["execute_call"]

logger = logging.getLogger(__name__)


async def execute_call(tools: Mapping[str, Tool], call: CallRecord, timeout: float) -> ToolOutput:
    """Run one call; never raises for anything the tool or the model got wrong."""
    tool = tools.get(call.name)
    if tool is None:
        names = ", ".join(sorted(tools)) or "none"
        return ToolOutput(f"unknown tool {call.name!r}; available tools: {names}", is_error=True)
    try:
        arguments = json.loads(call.arguments or "{}")
    except json.JSONDecodeError as exc:
        return ToolOutput(f"the arguments are not valid JSON: {exc}", is_error=True)
    if not isinstance(arguments, dict):
        return ToolOutput("the arguments must be a JSON object", is_error=True)
    try:
        async with asyncio.timeout(timeout):
            return await tool.call(arguments)
    except ToolError as exc:
        return ToolOutput(str(exc), is_error=True)
    except TimeoutError:
        return ToolOutput(f"the tool did not answer within {timeout:g} s", is_error=True)
    except Exception as exc:
        # Boundary: a tool is user code; whatever it raises goes back to the model as the
        # call's result (the loop must keep running), and the traceback to the log.
        logger.warning("tool %s failed", call.name, exc_info=True)
        return ToolOutput(f"{type(exc).__name__}: {exc}", is_error=True)
