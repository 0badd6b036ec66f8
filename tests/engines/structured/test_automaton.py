"""JsonConstraint: feed / can_feed / complete / finished / closing across the keywords."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from engines.structured.schemas import ORDER, TREE, WEATHER
from inferstack.engines.structured import JsonConstraint, compile_schema


def make(schema: Any, text: str = "", **kwargs: Any) -> JsonConstraint:
    con = JsonConstraint(compile_schema(schema), **kwargs)
    con.feed(text)
    return con


def accepts(schema: Any, text: str, **kwargs: Any) -> bool:
    """Whether ``text``, fed character by character, is a complete value."""
    con = JsonConstraint(compile_schema(schema), **kwargs)
    for ch in text:
        if not con.can_feed(ch):
            return False
        con.feed(ch)
    return con.complete


INT_0_120 = {"type": "integer", "minimum": 0, "maximum": 120}
CASES: list[tuple[Any, list[str], list[str]]] = [
    (WEATHER,
     ['{"location":"Paris","unit":"celsius"}', '{ "location": "Oslo", "unit": "fahrenheit" }',
      '{"location":"Rome","unit":"celsius","days":14,"hourly":true}',
      '{"location":"Rome","unit":"celsius","hourly":false}'],
     ['{"unit":"celsius","location":"Paris"}', '{"location":"Paris"}', '{"location":"P",'
      '"unit":"celsius"}', '{"location":"Paris","unit":"kelvin"}',
      '{"location":"Paris","unit":"celsius","days":15}', '{"location":"Paris","unit":"celsius",}',
      '{"location":"Paris","unit":"celsius","wind":1}', '{"location":"Paris","unit":"celsius"} ']),
    (INT_0_120, ["0", "7", "120", "99"], ["-1", "121", "01", "1.0", "1e2", "", " 5 ", "+1"]),
    ({"type": "integer"}, ["-0", "-12", "123456789012345"], ["1234567890123456", "--1", "-"]),
    ({"type": "number", "exclusiveMinimum": -1.5, "exclusiveMaximum": 3},
     ["-1.49", "0", "2.99999999", "-1", "0.5"], ["-1.5", "3", "3.0", "1.", ".5", "2.999999999"]),
    ({"type": "number"}, ["1.12345678", "123456789012.123", "-0.0"], ["1.123456789", "1.2.3"]),
    ({"type": "string", "minLength": 2, "maxLength": 3},
     ['"ab"', '"abc"', '"\\n\\t"', '"é😀"', '"\\u00e9x"'], ['"a"', '"abcd"', '"\\u00e9"']),
    ({"type": "string"},
     ['""', '"a\\"b"', '"\\\\"', '"\\/\\b\\f\\n\\r\\t"', '"\\uABCD"', '"日本"'],
     ['"a\nb"', '"\\x"', '"\\ud83d\\ude00"', '"\\u12G4"', '"\x7f\x01"', "'a'"]),
    ({"enum": ["red", "green", 1, 10, None, True]}, ['"red"', '"green"', "1", "10", "null", "true"],
     ['"re"', '"blue"', "100", "false", '"red" ']),
    ({"const": "x"}, ['"x"'], ['"y"', '"xx"']),
    ({"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 2},
     ["[1]", "[1,2]", "[ 1 , 2 ]"], ["[]", "[1,2,3]", "[1,]", "[,1]"]),
    ({"type": "array", "maxItems": 0}, ["[]", "[ ]"], ["[1]"]),
    ({"type": "boolean"}, ["true", "false"], ["True", "1", "null"]),
    ({"type": ["integer", "null"]}, ["3", "null"], ['"3"']),
    (None, ['{}', '{"a":[1,{"b":null}],"c":"d","a":2}', '{"":{"x":-1.5}}'], ["[]", '"s"', "1"]),
    ({"type": "object", "additionalProperties": {"type": "integer"}},
     ['{"x":1,"y":2}', "{}"], ['{"x":"1"}']),
    ({"anyOf": [{"type": "string", "maxLength": 1}, {"type": "integer", "minimum": 5}]},
     ['"a"', "5", "77"], ['"ab"', "4"]),
    (TREE, ['{"root":{"value":1,"children":[{"value":2,"label":null,"children":[]}]}}'],
     ['{"root":{"value":1}}', '{"root":{"value":10,"children":[]}}']),
]  # fmt: skip


@pytest.mark.parametrize(("schema", "good", "bad"), CASES)
def test_accepts_valid_and_rejects_invalid(schema: Any, good: list[str], bad: list[str]) -> None:
    validator = jsonschema.Draft202012Validator(schema or {"type": "object"})
    for text in good:
        assert accepts(schema, text), text
        assert make(schema).can_feed(text), text  # the same, in one call
        validator.validate(json.loads(text))
    for text in bad:
        assert not accepts(schema, text), text


def test_bounds_are_enforced_on_prefixes() -> None:
    con = make(INT_0_120)
    assert not con.can_feed("-")  # minimum >= 0
    assert con.can_feed("12") and not con.can_feed("121") and not con.can_feed("130")
    assert not make({"type": "integer", "maximum": 50}, "5").can_feed("1")
    assert make({"type": "integer", "maximum": 50}, "5").can_feed(",") is False  # top level
    tiny = make({"type": "number", "exclusiveMinimum": 0, "maximum": 0.001}, "0.00")
    assert tiny.can_feed("1") and tiny.can_feed("09") and not tiny.can_feed("2")
    assert not make({"type": "number", "minimum": 5}).can_feed("0")
    assert not make({"type": "integer"}).can_feed("1.")


def test_complete_and_finished() -> None:
    con = make({"type": "integer"}, "12")
    assert con.complete and not con.finished and con.closing() == ""
    assert make({"type": "integer", "maximum": 12}, "12").finished  # nothing can follow
    con = make({"enum": [1, 10]}, "1")
    assert con.complete and not con.finished
    con.feed("0")
    assert con.finished
    con = make(WEATHER, '{"location":"Paris","unit":"celsius"')
    assert not con.complete and not con.finished
    con.feed("}")
    assert con.complete and con.finished and not con.can_feed(" ")
    assert make({"type": "string"}, '"a"').finished


def test_whitespace_is_bounded() -> None:
    assert make(None, max_ws=1).can_feed('{ "a": 1 }')
    assert not make(None, max_ws=1).can_feed("{  ")
    assert not make(None, max_ws=0).can_feed("{ ")
    assert make(None, max_ws=2).can_feed('{  "a"  :  1  }')
    assert not make(None).can_feed("{\n") and not make(None).can_feed("{\t")
    assert make(None).can_feed(" {")  # one leading space
    assert not make(None, "{}").can_feed(" ")  # nothing after the top-level value


def test_feed_refuses_and_keeps_state() -> None:
    con = make(WEATHER, '{"location":"Pa')
    with pytest.raises(ValueError, match="does not continue"):
        con.feed('"}')  # location needs 2+ chars: fine; unit is missing
    con.feed("ris")
    assert con.closing() == '","unit":"celsius"}'


def test_copy_is_independent() -> None:
    con = make(WEATHER, '{"location":"Pa')
    other = con.copy()
    other.feed('ris","unit":"celsius"}')
    assert other.finished and not con.complete
    assert con.closing() == '","unit":"celsius"}'


@pytest.mark.parametrize(
    "prefix",
    ["", " ", "{", '{"', '{"i', '{"id"', '{"id" ', '{"id":', '{"id": 1', '{"id":100', '{"id":1000',
     '{"id":101,', '{"id":101, "', '{"id":101,"customer":{"name":"a\\', '{"id":101,"customer":{'
     '"name":"\\u', '{"id":101,"customer":{"name":"\\u00', '{"id":101,"customer":{"name":"\\uD',
     '{"id":101,"customer":{"name":"x","email":', '{"id":101,"customer":{"name":"x","email":n',
     '{"id":101,"customer":{"name":"x"},"items":[', '{"id":101,"customer":{"name":"x"},"items":'
     '[{"sku":"SKU-1","qty":-', '{"id":101,"customer":{"name":"x"},"items":[{"sku":"SKU-1",'
     '"qty":2,"price":0.', '{"id":101,"customer":{"name":"x"},"items":[{"sku":"SKU-1","qty":2,'
     '"price":99.4}', '{"id":101,"customer":{"name":"x"},"items":[{"sku":"SKU-1","qty":2,'
     '"price":99.4},', '{"id":101,"customer":{"name":"x"},"items":[{"sku":"SKU-1","qty":2,'
     '"price":1},{"sku":"SKU-1","qty":2,"price":1}]', '{"id":101,"customer":{"name":"x"},'
     '"items":[{"sku":"SKU-1","qty":2,"price":1},{"sku":"SKU-1","qty":2,"price":1}],"note":"ab'],
)  # fmt: skip
def test_closing_is_valid_from_tricky_states(prefix: str) -> None:
    con = make(ORDER, prefix)
    closing = con.closing()
    con.feed(closing)
    assert con.finished, prefix + closing
    jsonschema.validate(json.loads(prefix + closing), ORDER)


def test_closing_examples() -> None:
    assert make(WEATHER, '{"location":"P').closing() == 'a","unit":"celsius"}'  # minLength 2
    assert make(WEATHER, '{"location":"Paris","unit":"fa').closing() == 'hrenheit"}'
    assert make(WEATHER, '{"location":"Paris","unit":"celsius",').closing() == '"days":1}'
    assert make({"type": "number", "minimum": 0.25}, "0.").closing() == "3"
    assert make({"type": "number", "exclusiveMaximum": -2}, "-").closing() == "3"
    assert make({"type": "array", "minItems": 2, "items": {"enum": ["x"]}}, "[").closing() == (
        '"x","x"]'
    )


def test_depth_is_limited_but_closable() -> None:
    con = make(TREE, '{"root":{"value":1,"children":[{"value":1,"children":[', max_depth=5)
    assert not con.can_feed("{")
    closing = con.closing()
    assert closing == "]}]}}"


def test_unicode_and_surrogates() -> None:
    con = make({"type": "string", "maxLength": 2}, '"')
    assert con.can_feed('😀é"') and not con.can_feed("😀éa")
    assert not con.can_feed("\ud800")  # a lone surrogate code point is refused
    assert make(None).can_feed('{"日本": "😀"}')
