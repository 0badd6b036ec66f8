"""The console's page and its static assets, served from the package with a strict CSP.

Only files shipped in ``static/`` are served (listed once at start: no path from a request
ever reaches the file system). The policy allows scripts and styles from this origin only, no
inline script and no ``eval``: text that reaches the page from data (a key alias, a prompt)
cannot run even if some code inserted it as markup.
"""

from __future__ import annotations

import hashlib
from importlib import resources

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from inferstack.errors import NotFoundError

__all__ = ["CSP", "SECURITY_HEADERS", "Assets", "router_for"]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-cache",
}
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


class Assets:
    """The files under ``inferstack/console/static``, read once."""

    def __init__(self) -> None:
        root = resources.files("inferstack.console") / "static"
        self.files: dict[str, tuple[bytes, str, str]] = {}
        self._walk(root, "")

    def _walk(self, folder: resources.abc.Traversable, prefix: str) -> None:
        for item in folder.iterdir():
            name = prefix + item.name
            if item.is_dir():
                self._walk(item, name + "/")
                continue
            suffix = "." + item.name.rsplit(".", 1)[-1]
            if suffix in _TYPES:
                body = item.read_bytes()
                etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
                self.files[name] = (body, _TYPES[suffix], etag)

    def response(self, name: str, request: Request) -> Response:
        """The asset, or 304 when the browser's copy (``If-None-Match``) is current: a reload
        revalidates every module (``no-cache``) but downloads only what changed."""
        found = self.files.get(name)
        if found is None:
            raise NotFoundError(f"no console asset {name!r}")
        body, media_type, etag = found
        headers = {**SECURITY_HEADERS, "etag": etag}
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=media_type, headers=headers)


def router_for(assets: Assets) -> APIRouter:
    """``/ui`` (the single page) and ``/ui/static/*``."""
    router = APIRouter(tags=["console"], include_in_schema=False)

    @router.get("/ui")
    async def ui_root() -> Response:
        return RedirectResponse("/ui/", status_code=308)

    @router.get("/ui/")
    async def index(request: Request) -> Response:
        return assets.response("index.html", request)

    @router.get("/ui/static/{name:path}")
    async def static(name: str, request: Request) -> Response:
        return assets.response(name, request)

    return router
