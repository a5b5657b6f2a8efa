"""`create_app(container)`: the HTTP API over an already-built container."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from seat_manager import __version__
from seat_manager.adapters.db import migrator
from seat_manager.api.errors import error_body, install_error_handlers
from seat_manager.api.routes import operator
from seat_manager.bootstrap import Container
from seat_manager.metrics import StoreGauges
from seat_manager.services.health import watcher_health


def create_app(container: Container) -> FastAPI:
    app = FastAPI(title="seat-manager", version=__version__)
    app.state.container = container
    install_error_handlers(app)
    app.include_router(operator.router)
    gauges = StoreGauges(container.registry)

    @app.get("/healthz", tags=["public"])
    async def healthz() -> dict[str, object]:
        """The process is up and serving."""
        return {"ok": True}

    @app.get("/readyz", tags=["public"], response_model=None)
    async def readyz() -> dict[str, object] | JSONResponse:
        """Ready for traffic: the store answers and its schema is current."""
        try:
            state = await migrator.schema_state(container.engine)
        except Exception as exc:  # noqa: BLE001 - readiness reports any store failure
            return JSONResponse(
                error_body("STORE_UNAVAILABLE", f"store unreachable: {type(exc).__name__}"),
                status_code=503,
            )
        if not state.is_current:
            return JSONResponse(
                error_body("SCHEMA_NOT_CURRENT", "pending migrations: " + ", ".join(state.pending)),
                status_code=503,
            )
        return {"ok": True, "store": container.settings.store_driver, "schema": state.current}

    @app.get("/metrics", tags=["public"], response_class=Response)
    async def metrics() -> Response:
        """Prometheus metrics: watcher position and lag, seats and operations by status."""
        async with container.uow() as uow:
            health = await watcher_health(uow, container.settings)
            seats = await uow.seats.count_by_status()
            operations = await uow.operations.count_by_status()
        gauges.update(health, seats, operations)
        return Response(generate_latest(container.registry), media_type=CONTENT_TYPE_LATEST)

    return app
