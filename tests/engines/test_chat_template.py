import pytest

from inferstack.bench.evals.factual import QUESTIONS
from inferstack.engines.chat_template import EXAMPLE_INSTRUCTION, EXAMPLE_TURNS, ChatTemplate
from inferstack.errors import InvalidRequestError, UnsupportedFeatureError

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def test_fallback_transcript() -> None:
    rendered = ChatTemplate(None).render(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Capital of France?"},
            {"role": "assistant", "content": "Paris."},
            {"role": "user", "content": [{"type": "text", "text": "And Italy?"}]},
        ]
    )
    examples = "\n".join(EXAMPLE_TURNS)
    assert rendered.prompt == (
        f"Be brief.\n\n{EXAMPLE_INSTRUCTION}\n\n{examples}\n"
        "Q: Capital of France?\nA: Paris.\nQ: And Italy?\nA:"
    )
    assert rendered.stop == ["\nQ:"]
    assert rendered.add_special


def test_fallback_renders_tool_turns() -> None:
    rendered = ChatTemplate(None).render(
        [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "21 C"},
        ]
    )
    assert 'A: {"name": "weather", "arguments": {"city": "Paris"}}' in rendered.prompt
    assert "Tool (weather): 21 C" in rendered.prompt


def test_fallback_lists_tools_and_how_to_call_them() -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Weather now.",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    rendered = ChatTemplate(None).render([{"role": "user", "content": "Paris?"}], tools=tools)
    assert rendered.prompt.startswith("You can call tools.")
    assert '- weather: Weather now. Arguments: {"type": "object"' in rendered.prompt
    assert rendered.prompt.endswith("Q: Paris?\nA:")


def test_gguf_template_is_rendered_with_jinja() -> None:
    template = ChatTemplate("<bos>" + CHATML, bos_token="<bos>")
    rendered = template.render([{"role": "user", "content": "hi"}])
    assert rendered.prompt == "<bos><|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert rendered.stop == []
    assert not rendered.add_special  # the template wrote BOS itself


def test_template_exceptions_become_client_errors() -> None:
    template = ChatTemplate("{{ raise_exception('roles must alternate') }}")
    with pytest.raises(InvalidRequestError, match="roles must alternate") as info:
        template.render([{"role": "user", "content": "x"}])
    assert info.value.param == "messages"


def test_sandbox_blocks_unsafe_attribute_access() -> None:
    template = ChatTemplate("{{ messages.__class__.__mro__ }}")
    with pytest.raises(InvalidRequestError):
        template.render([{"role": "user", "content": "x"}])


def test_images_are_refused_by_a_text_model_naming_the_part() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    with pytest.raises(UnsupportedFeatureError) as info:
        ChatTemplate(None).render(
            [
                {"role": "system", "content": "read it"},
                {"role": "user", "content": [{"type": "text", "text": "what?"}, image]},
            ]
        )
    assert info.value.param == "messages.1.content.1"
    assert info.value.status == 400 and "'image_url'" in info.value.message


def test_fallback_tool_example_uses_realistic_values_from_its_question() -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    prompt = ChatTemplate(None).render([{"role": "user", "content": "Paris?"}], tools=tools).prompt
    assert "Q: Use get_weather for Lisbon." in prompt
    assert 'A: {"name": "get_weather", "arguments": {"city": "Lisbon"}}' in prompt
    assert '"city": ""' not in prompt


def test_fallback_examples_are_one_line_question_answer_pairs() -> None:
    """Each worked turn is one line, questions and answers alternating, so the implied stop
    ``"\\nQ:"`` ends an answer the way the examples end theirs."""
    assert len(EXAMPLE_TURNS) % 2 == 0
    for question, answer in zip(EXAMPLE_TURNS[::2], EXAMPLE_TURNS[1::2], strict=True):
        assert question.startswith("Q: ") and answer.startswith("A: ")
        assert "\n" not in question + answer


def test_fallback_examples_are_held_out_from_the_factual_eval() -> None:
    """The simple-question eval measures the fallback, so none of its questions may be a worked
    turn, nor appear anywhere in the transcript a different question gets."""

    def norm(text: str) -> str:
        return " ".join(text.lower().split())

    examples = {norm(turn.removeprefix("Q: ")) for turn in EXAMPLE_TURNS[::2]}
    prompt = norm(ChatTemplate(None).render([{"role": "user", "content": "Hi."}]).prompt)
    for question, _ in QUESTIONS:
        assert norm(question) not in examples
        assert norm(question) not in prompt
