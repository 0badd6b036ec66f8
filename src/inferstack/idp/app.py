"""The IDP HTTP service: the review queue API on the IDP tables."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from inferstack.http_errors import install_error_handlers
from inferstack.idp.review import ReviewQueue
from inferstack.idp.router import router
from inferstack.idp.settings import IdpSettings
from inferstack.idp.store import IdpStore

__all__ = ["build_app"]

log = logging.getLogger(__name__)


def build_app(settings: IdpSettings) -> FastAPI:
    """The review API over ``settings``' database (opened on start, closed on shutdown)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = IdpStore(settings.resolved_database_url())
        app.state.review_queue = ReviewQueue(store)
        try:
            yield
        finally:
            store.close()

    app = FastAPI(title="inferstack idp", lifespan=lifespan)
    install_error_handlers(app, log)
    app.include_router(router)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
