"""Send one traced chat request through a running `inferstack up --observability` stack and
take a screenshot of its trace in Phoenix's UI with headless Chromium (Debian's, through
Playwright; no browser download).

    .venv/bin/python docs/tools/phoenix_screenshot.py --state-dir ~/.inferstack \
        --out docs/images/phoenix-trace.png
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def traced_request(stack: dict, trace_id: str) -> None:
    gateway = stack["gateway"]
    key = Path(gateway["api_key_file"]).read_text().strip()
    r = httpx.post(
        f"{gateway['base_url']}/chat/completions",
        headers={
            "Authorization": f"Bearer {key}",
            "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
        },
        json={
            "model": stack["chat"]["model"],
            "messages": [{"role": "user", "content": "What is the capital of France?"}],
            "max_tokens": 16,
        },
        timeout=120,
    )
    r.raise_for_status()


def wait_for_trace(phoenix: str, trace_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = httpx.get(
            f"{phoenix}/v1/projects/inferstack/spans/otlpv1",
            params={"trace_id": trace_id, "name": "decode"},
            timeout=10,
        )
        if r.status_code == 200 and r.json()["data"]:
            return
        time.sleep(0.5)
    raise SystemExit(f"trace {trace_id} did not reach Phoenix")


def project_id(phoenix: str, name: str = "inferstack") -> str:
    for project in httpx.get(f"{phoenix}/v1/projects", timeout=10).json()["data"]:
        if project["name"] == name:
            return str(project["id"])
    raise SystemExit(f"no Phoenix project {name!r}")


def show_attributes(page: Page, model: str, timeout: float = 180) -> None:
    """Open the model server's generation span, whose gen_ai.* attributes fill the panel, and
    wait until they show. On a slow machine a click can land while the span tree still
    renders, and the attributes can sit in a hidden tab: the span is clicked again, then the
    panel's Attributes tab, until a visible row appears."""
    shown = page.locator("text=inferstack.request_id >> visible=true")
    deadline = time.monotonic() + timeout
    attempt = 0
    while time.monotonic() < deadline:
        if attempt % 2 == 0:
            page.get_by_text(f"chat {model}").last.click()
        else:
            page.get_by_role("tab", name="Attributes").first.click()
        attempt += 1
        try:
            shown.first.wait_for(timeout=15_000)
            return
        except PlaywrightTimeout:
            continue
    raise SystemExit(f"the span's attributes did not show in {timeout:.0f} s")


def screenshot(phoenix: str, trace_id: str, model: str, out: Path) -> None:
    url = f"{phoenix}/projects/{project_id(phoenix)}/traces/{trace_id}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(url, wait_until="networkidle", timeout=120_000)
            page.get_by_text("decode").first.wait_for(timeout=120_000)
            show_attributes(page, model)
            page.wait_for_load_state("networkidle")
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
        finally:
            browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", type=Path, default=Path.home() / ".inferstack")
    parser.add_argument("--out", type=Path, default=Path("docs/images/phoenix-trace.png"))
    args = parser.parse_args()
    stack = json.loads((args.state_dir / "stack.json").read_text())
    if "phoenix" not in stack:
        raise SystemExit("the stack runs without Phoenix: start it with `inferstack up --observability`")
    trace_id = secrets.token_hex(16)
    traced_request(stack, trace_id)
    wait_for_trace(stack["phoenix"]["url"], trace_id)
    screenshot(stack["phoenix"]["url"], trace_id, stack["chat"]["model"], args.out)
    print(f"trace {trace_id} → {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
