"""The web-search client over real HTTP against the local server that speaks Tavily's API:
results, and every way a provider fails (each an explicit WebSearchError, never no results)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from inferstack.errors import InvalidRequestError, UpstreamError
from inferstack.websearch import WebResult, WebSearch, WebSearchError, WebSearchSettings
from support.servers import free_port
from support.tavily import PAGES, TavilyStandIn, tavily_server


@pytest.fixture(scope="module")
def provider() -> Iterator[TavilyStandIn]:
    with tavily_server() as stand_in:
        yield stand_in


@pytest.fixture(autouse=True)
def healthy(provider: TavilyStandIn) -> Iterator[None]:
    provider.heal()
    yield
    provider.heal()


def settings(url: str, key: str = "tvly-test-key", **kw: object) -> WebSearchSettings:
    return WebSearchSettings(url=url, api_key=SecretStr(key), **kw)  # type: ignore[arg-type]


async def test_results_are_typed_best_first_and_capped(provider: TavilyStandIn) -> None:
    async with WebSearch(settings(provider.url, max_results=3)) as web:
        results = await web.search("How many moons does Neptune have?", max_results=10)
    assert [r.url for r in results] == [PAGES[0].url, PAGES[1].url]
    top = results[0]
    assert isinstance(top, WebResult) and top.title == "Moons of Neptune"
    assert "Triton" in top.content and top.score is not None and top.score > results[1].score
    sent = provider.requests[-1]
    assert sent["authorization"] == "Bearer tvly-test-key"
    assert sent["body"] == {
        "query": "How many moons does Neptune have?",
        "max_results": 3,  # capped by the settings, not the caller
        "search_depth": "basic",
    }


async def test_a_query_matching_nothing_is_an_empty_list(provider: TavilyStandIn) -> None:
    async with WebSearch(settings(provider.url)) as web:
        assert await web.search("quantum chromodynamics lattice") == []
        with pytest.raises(InvalidRequestError) as err:
            await web.search("   ")
    assert err.value.param == "query"


@pytest.mark.parametrize(
    ("mode", "status", "code", "words"),
    [
        ("status", 503, "web_search_status", "answered 503"),
        ("status", 500, "web_search_status", "answered 500"),
        ("status", 429, "web_search_status", "answered 429"),
        ("malformed", 200, "web_search_malformed", "not JSON"),
        ("no_results_key", 200, "web_search_malformed", "no results list"),
        ("no_url", 200, "web_search_malformed", "results[0] has no http(s) url"),
    ],
)
async def test_provider_failures_are_explicit_502s(
    provider: TavilyStandIn, mode: str, status: int, code: str, words: str
) -> None:
    provider.fail(mode, status)
    async with WebSearch(settings(provider.url)) as web:
        with pytest.raises(WebSearchError) as err:
            await web.search("Neptune moons")
    assert isinstance(err.value, UpstreamError) and err.value.status == 502
    assert err.value.code == code
    assert words in err.value.message and err.value.message.startswith("web search")


async def test_a_refused_key_is_an_explicit_error(provider: TavilyStandIn) -> None:
    async with WebSearch(settings(provider.url, key="tvly-wrong")) as web:
        with pytest.raises(WebSearchError) as err:
            await web.search("Neptune moons")
    assert (
        err.value.code == "web_search_unauthorized" and "refused the API key" in err.value.message
    )
    assert "tvly-wrong" not in err.value.message


async def test_a_slow_provider_times_out(provider: TavilyStandIn) -> None:
    provider.fail("slow")
    async with WebSearch(settings(provider.url, timeout=0.3)) as web:
        with pytest.raises(WebSearchError) as err:
            await web.search("Neptune moons")
    assert (
        err.value.code == "web_search_timeout"
        and "did not answer within 0.3 s" in err.value.message
    )


async def test_an_unreachable_provider_is_an_explicit_error() -> None:
    dead = f"http://127.0.0.1:{free_port()}/search"
    async with WebSearch(settings(dead)) as web:
        with pytest.raises(WebSearchError) as err:
            await web.search("Neptune moons")
    assert err.value.code == "web_search_unreachable" and dead in err.value.message


def test_no_key_means_no_client() -> None:
    assert not WebSearchSettings().enabled
    assert not WebSearchSettings(api_key=SecretStr("  ")).enabled  # an empty Secret
    with pytest.raises(ValueError, match="API key"):
        WebSearch(WebSearchSettings())
