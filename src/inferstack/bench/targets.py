"""Naming and checking the servers under test: URL forms, loopback rule, local PID lookup."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

from inferstack.bench.cpu import find_pid_by_port
from inferstack.bench.workload import Endpoint

__all__ = ["check_host", "is_loopback", "local_pid", "normalize_url", "parse_target"]

_ENDPOINT_SUFFIXES = (
    ("/chat/completions", Endpoint.CHAT),
    ("/completions", Endpoint.COMPLETIONS),
)


def normalize_url(url: str) -> tuple[str, Endpoint | None]:
    """The OpenAI base URL (ending in ``/v1``) for ``url``, and the endpoint it named, if any.

    Accepts ``http://host:port``, ``…/v1``, and full endpoint URLs such as
    ``…/v1/completions`` (the reference benchmark's ``URL``).
    """
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    path = parts.path.rstrip("/")
    endpoint: Endpoint | None = None
    for suffix, kind in _ENDPOINT_SUFFIXES:
        if path.endswith(suffix):
            path, endpoint = path[: -len(suffix)], kind
            break
    if not path.endswith("/v1"):
        path += "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, "", "")), endpoint


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host(base_url: str, allow_remote: bool) -> None:
    """Refuse a non-loopback target unless the user allowed remote hosts."""
    host = urlsplit(base_url).hostname or ""
    if not allow_remote and not is_loopback(host):
        raise ValueError(
            f"{host!r} is not a loopback address; a load test against another machine "
            "needs --allow-remote"
        )


def parse_target(spec: str) -> tuple[str, str]:
    """``NAME=URL`` or a bare URL (named ``host:port``) → (name, url)."""
    name, sep, url = spec.partition("=")
    if sep and "://" not in name and "/" not in name:
        return name, url
    parts = urlsplit(spec if "://" in spec else f"http://{spec}")
    return parts.netloc or spec, spec


def local_pid(base_url: str) -> int | None:
    """The PID serving ``base_url`` when it is on this machine's loopback, else None."""
    parts = urlsplit(base_url)
    if not is_loopback(parts.hostname or ""):
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return find_pid_by_port(port)
