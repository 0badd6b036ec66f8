"""The console's page and its static assets, served from the package with a strict CSP.

Only files shipped in ``static/`` are served (listed once at start: no path from a request
ever reaches the file system). The policy allows scripts and styles from this origin only, no
inline script and no ``eval``: text that reaches the page from data (a key alias, a prompt)
cannot run even if some code inserted it as markup.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
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
        self.files: dict[str, tuple[bytes, str]] = {}
        self._walk(root, "")

    def _walk(self, folder: resources.abc.Traversable, prefix: str) -> None:
        for item in folder.iterdir():
            name = prefix + item.name
            if item.is_dir():
                self._walk(item, name + "/")
                continue
            suffix = "." + item.name.rsplit(".", 1)[-1]
            if suffix in _TYPES:
                self.files[name] = (item.read_bytes(), _TYPES[suffix])

    def response(self, name: str) -> Response:
        found = self.files.get(name)
        if found is None:
            raise NotFoundError(f"no console asset {name!r}")
        body, media_type = found
        return Response(body, media_type=media_type, headers=SECURITY_HEADERS)


def router_for(assets: Assets) -> APIRouter:
    """``/ui`` (the single page) and ``/ui/static/*``."""
    router = APIRouter(tags=["console"], include_in_schema=False)

    @router.get("/ui")
    async def ui_root() -> Response:
        return RedirectResponse("/ui/", status_code=308)

    @router.get("/ui/")
    async def index() -> Response:
        return assets.response("index.html")

    @router.get("/ui/static/{name:path}")
    async def static(name: str) -> Response:
        return assets.response(name)

    return router
