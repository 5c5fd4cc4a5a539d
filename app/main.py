"""Builds the ASGI application (``app.main:app``); nothing else happens here."""

from __future__ import annotations

from fastapi import FastAPI

from app.api.routes import health, jobs
from app.api.routes.web import mount_web
from app.core.connection import LingeringClose
from app.core.errors import install_error_handlers
from worker.settings import get_settings

DESCRIPTION = """Upload a front and a side video of one person; get OpenSim kinematics back:
joint angles (`kinematics.mot`), a subject-scaled model (`model_scaled.osim`), joint-centre
trajectories (`joint_centers.trc`), a `summary.json` and plots. Authenticate with `X-API-Key`.
Every error has the shape `{"error": {"code": ..., "message": ...}}`."""


def create_app() -> FastAPI:
    get_settings()  # validate configuration at start-up
    app = FastAPI(title="Video → OpenSim kinematics", version="0.1.0", description=DESCRIPTION)
    install_error_handlers(app)
    app.add_middleware(LingeringClose)  # a refused upload is not read to its end
    app.include_router(jobs.router)
    app.include_router(health.router)
    mount_web(app)  # the page at / and its files under /static
    return app


app = create_app()
