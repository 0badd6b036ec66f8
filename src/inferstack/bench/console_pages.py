"""Console page loads in a real browser (Debian's Chromium through Playwright) on the gateway
over an empty database and then over a generated one (default 1,000,000 requests, 10,000 keys),
the empty run being the peer: the ratio says how much the data's size costs a page.

    .venv/bin/python -m inferstack.bench.console_pages [--requests N] [--loads 20]

Each load is a full reload of ``/ui/#/<page>`` (assets revalidated by ETag, the session and
config read, the page's own API calls), timed until the page marks itself rendered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from inferstack.bench.console_data import DataSpec, add_spec_arguments, generate, spec_from_args
from inferstack.bench.console_load import _percentile, _start_gateway
from inferstack.bench.pgcluster import postgres_cluster

__all__ = ["PAGES", "main"]

PAGES = ["keys", "teams", "models", "usage", "logs", "audit"]
CHROMIUM = "/usr/bin/chromium"


async def _loads(base: str, master: str, loads: int) -> dict[str, list[float]]:
    from playwright.async_api import async_playwright

    out: dict[str, list[float]] = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--headless"])
        try:
            context = await browser.new_context()
            signed = await context.request.post(base + "/ui/api/login", data={"key": master})
            assert signed.ok, await signed.text()
            page = await context.new_page()
            for name in PAGES:
                out[name] = []
                for i in range(loads + 1):  # the first load warms the browser's cache
                    started = time.perf_counter()
                    await page.goto(f"{base}/ui/?load={i}#/{name}")
                    await page.wait_for_selector(f"body[data-page='{name}']", timeout=60_000)
                    elapsed = (time.perf_counter() - started) * 1000
                    if await page.locator("[data-testid=page-error]").count():
                        raise RuntimeError(f"{name}: {await page.inner_text('main')}")
                    if i:
                        out[name].append(elapsed)
        finally:
            await browser.close()
    return out


async def run(spec: DataSpec, loads: int) -> dict[str, Any]:
    import asyncpg

    with postgres_cluster() as url, tempfile.TemporaryDirectory(prefix="console-pages-") as tmp:
        proc, base, master = _start_gateway(Path(tmp), url)
        try:
            empty = await _loads(base, master, loads)
            conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
            try:
                print(f"generating {spec.requests:,} requests, {spec.keys:,} keys ...", flush=True)
                await generate(conn, spec, log=lambda line: print("  " + line, flush=True))
            finally:
                await conn.close()
            full = await _loads(base, master, loads)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return _report(empty, full, spec, loads)


def _report(
    empty: dict[str, list[float]], full: dict[str, list[float]], spec: DataSpec, loads: int
) -> dict[str, Any]:
    label = f"{spec.requests:,} rows"
    print(f"\n{'page':<8} {'empty p50':>10} {'empty p95':>10} {label + ' p50':>18} "
          f"{label + ' p95':>18} {'p95 ratio':>10}")  # fmt: skip
    rows = []
    for name in PAGES:
        e50, e95 = _percentile(empty[name], 0.5), _percentile(empty[name], 0.95)
        f50, f95 = _percentile(full[name], 0.5), _percentile(full[name], 0.95)
        print(f"/{name:<7} {e50:>10.0f} {e95:>10.0f} {f50:>18.0f} {f95:>18.0f} {f95 / e95:>9.2f}x")
        rows.append(
            {"page": name, "empty_p50_ms": e50, "empty_p95_ms": e95, "p50_ms": f50, "p95_ms": f95}
        )
    print("(milliseconds from navigation to the page rendered, one browser, one load at a time)")
    return {"pages": rows, "spec": spec.__dict__, "loads": loads}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m inferstack.bench.console_pages", description=__doc__.split("\n")[0]
    )
    add_spec_arguments(parser)
    parser.add_argument("--loads", type=int, default=20, help="timed loads per page")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    spec = spec_from_args(args)
    result = asyncio.run(run(spec, args.loads))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
