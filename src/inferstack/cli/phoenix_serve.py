"""``python -m inferstack.cli.phoenix_serve``: ``phoenix serve`` with its gRPC receiver closed.

Phoenix binds its OTLP gRPC receiver on ``[::]`` (every interface) and offers no setting to
bind it elsewhere. inferstack sends traces over OTLP/HTTP only, so the receiver is disabled
before Phoenix starts: nothing but the HTTP port (``PHOENIX_HOST``:``PHOENIX_PORT``) listens.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["main"]


def main() -> None:
    try:
        from phoenix.server import grpc_server
        from phoenix.server.main import main as phoenix_main
    except ImportError as exc:
        raise SystemExit(
            "Phoenix is not installed: pip install 'inferstack[phoenix]' (make test does)"
        ) from exc

    original = grpc_server.GrpcServer.__init__

    def closed(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["disabled"] = True
        original(self, *args, **kwargs)

    grpc_server.GrpcServer.__init__ = closed  # type: ignore[method-assign]
    sys.argv = ["phoenix", "serve"]
    phoenix_main()


if __name__ == "__main__":
    main()
