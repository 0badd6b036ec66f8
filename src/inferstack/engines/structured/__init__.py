"""Structured output: JSON-schema constraints for constrained decoding, in pure Python.

:func:`compile_schema` turns a JSON schema (or None for any JSON object) into nodes;
:class:`JsonConstraint` walks them one candidate text at a time; :func:`tool_call_schema` builds
the schema of a tool call from OpenAI ``tools``.
"""

from inferstack.engines.structured.automaton import JsonConstraint
from inferstack.engines.structured.nodes import Node
from inferstack.engines.structured.schema import compile_schema
from inferstack.engines.structured.tools import parse_tool_calls, tool_call_schema

__all__ = ["JsonConstraint", "Node", "compile_schema", "parse_tool_calls", "tool_call_schema"]
