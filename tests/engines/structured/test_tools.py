"""tool_call_schema and parse_tool_calls: the shape of calls, choices, errors, $ref rebasing."""

from __future__ import annotations

import json

import jsonschema
import pytest

from engines.structured.schemas import TOOLS
from inferstack.engines.structured import (
    JsonConstraint,
    compile_schema,
    parse_tool_calls,
    tool_call_schema,
)
from inferstack.errors import InvalidRequestError, UnsupportedFeatureError

SHIP = '{"name":"ship","arguments":{"to":{"street":"Main 1","zip":"12345"},"priority":"high"}}'
WEATHER = '{"name":"get_weather","arguments":{"location":"Paris","unit":"celsius"}}'


def constraint(schema: dict) -> JsonConstraint:
    return JsonConstraint(compile_schema(schema, param="tools"))


def test_single_call_over_all_tools() -> None:
    schema = tool_call_schema(TOOLS, choice="required", parallel=False)
    for text in (SHIP, WEATHER, '{"name":"ping","arguments":{}}'):
        con = constraint(schema)
        con.feed(text)
        assert con.finished
        jsonschema.validate(json.loads(text), schema)
    con = constraint(schema)
    assert not con.can_feed('{"arguments"')  # name comes first
    assert not con.can_feed('{"name":"nope"')
    assert con.can_feed('{"name":"ship","arguments":{"to"')
    assert not con.can_feed('{"name":"ping","arguments":{"to"')


def test_named_choice_allows_only_that_tool() -> None:
    schema = tool_call_schema(TOOLS, choice="ship", parallel=False)
    con = constraint(schema)
    assert con.can_feed(SHIP) and not con.can_feed(WEATHER)
    assert con.closing() == (
        '{"name":"ship","arguments":{"to":{"street":"","zip":"aaaaa"},"priority":"low"}}'
    )


def test_parallel_calls_are_an_array_of_one_or_more() -> None:
    schema = tool_call_schema(TOOLS, choice=None, parallel=True, max_calls=2)
    assert schema["type"] == "array" and schema["minItems"] == 1 and schema["maxItems"] == 2
    con = constraint(schema)
    assert not con.can_feed("[]")
    assert con.can_feed(f"[{SHIP}, {WEATHER}]")
    assert not con.can_feed(f"[{SHIP},{WEATHER},{SHIP}")
    con.feed("[")
    assert con.closing() == '{"name":"ping","arguments":{}}]'
    assert parse_tool_calls(f"[{SHIP},{WEATHER}]") == [
        ("ship", json.dumps(json.loads(SHIP)["arguments"])),
        ("get_weather", '{"location": "Paris", "unit": "celsius"}'),
    ]


def test_refs_are_rebased_under_defs() -> None:
    schema = tool_call_schema(TOOLS, choice="ship", parallel=False)
    assert schema["properties"]["arguments"] == {"$ref": "#/$defs/tool1"}
    assert schema["$defs"]["tool1"]["properties"]["to"] == {"$ref": "#/$defs/tool1/$defs/Address"}
    assert TOOLS[1]["function"]["parameters"]["properties"]["to"] == {"$ref": "#/$defs/Address"}
    jsonschema.validate(json.loads(SHIP), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(json.loads(SHIP.replace("12345", "1234")), schema)


def test_legacy_functions_and_missing_parameters() -> None:
    schema = tool_call_schema([{"name": "noop"}], choice=None, parallel=False)
    assert schema["$defs"]["tool0"] == {"type": "object", "properties": {}}
    assert constraint(schema).can_feed('{"name":"noop","arguments":{}}')


def test_errors_name_the_parameter() -> None:
    with pytest.raises(InvalidRequestError) as info:
        tool_call_schema(TOOLS, choice="fly", parallel=False)
    assert info.value.param == "tool_choice"
    bad = [*TOOLS, {"type": "function", "function": {"name": "x", "parameters": {"type": "o"}}}]
    with pytest.raises(InvalidRequestError) as info:
        tool_call_schema(bad, choice=None, parallel=False)
    assert info.value.param == "tools.3.function.parameters"
    odd = [{"type": "function", "function": {"name": "x", "parameters": {"not": {}}}}]
    with pytest.raises(UnsupportedFeatureError) as info:
        tool_call_schema(odd, choice=None, parallel=False)
    assert info.value.param == "tools.0.function.parameters" and "'not'" in info.value.message
    with pytest.raises(InvalidRequestError) as info:
        tool_call_schema([{"type": "function", "function": {}}], choice=None, parallel=False)
    assert info.value.param == "tools.0.function.name"
    with pytest.raises(InvalidRequestError) as info:
        tool_call_schema([], choice=None, parallel=False)
    assert info.value.param == "tools"
    with pytest.raises(ValueError, match="none"):
        tool_call_schema(TOOLS, choice="none", parallel=False)
