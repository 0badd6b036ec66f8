"""instructor against an OpenAI-compatible URL: structured output (tools and JSON-schema
modes) and partial streaming. Prints one JSON line; exits non-zero on any failure."""

import json
import sys

import instructor
import openai
from pydantic import BaseModel, Field


class City(BaseModel):
    name: str = Field(min_length=1, max_length=40)
    country: str = Field(min_length=1, max_length=40)


def main(url: str, key: str) -> None:
    raw = openai.OpenAI(base_url=url, api_key=key, timeout=600, max_retries=0)
    report = {}
    for mode in (instructor.Mode.TOOLS, instructor.Mode.JSON_SCHEMA):
        client = instructor.from_openai(raw, mode=mode)
        city = client.chat.completions.create(
            model="chat",
            response_model=City,
            messages=[{"role": "user", "content": "I live in Lyon, France."}],
            temperature=0,
            max_tokens=64,
            max_retries=0,
        )
        report[mode.value] = city.model_dump()
    client = instructor.from_openai(raw, mode=instructor.Mode.TOOLS)
    partials = list(
        client.chat.completions.create_partial(
            model="chat",
            response_model=City,
            messages=[{"role": "user", "content": "I live in Lyon, France."}],
            temperature=0,
            max_tokens=64,
            max_retries=0,
        )
    )
    report["partials"] = len(partials)
    assert partials and isinstance(partials[-1].name, str)
    print(json.dumps({"ok": True, **report}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
