"""The web page at ``/`` (plain HTML/CSS/JS from ``app/web``: same origin, no CDN, no build step)
and ``GET /model``, the model description the page draws the skeleton and the angle panels from."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from app.schemas import ModelPublic
from model_store.biomech.definition import load_definition
from model_store.results import (
    JOINT_CENTERS,
    KINEMATICS,
    OVERLAY_SHEET,
    OVERLAY_VIDEO,
    PLOT_PANELS,
    SUMMARY,
)

WEB_DIR = Path(__file__).resolve().parents[2] / "web"

#: The page loads nothing from elsewhere; results are shown from blob: URLs (fetched with the key header).
CSP = ("default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

router = APIRouter(tags=["web"])


@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
def page() -> FileResponse:
    return FileResponse(WEB_DIR / "index.html", media_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache",
                                 "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})


@lru_cache(maxsize=1)
def _model() -> ModelPublic:
    md = load_definition()
    return ModelPublic(
        name=md.name, bodies=list(md.body_names),
        segments=[[j.parent, j.child] for j in md.joints if j.parent in md.body_names],
        angle_panels={k: list(v) for k, v in PLOT_PANELS.items()},
        result_files={"kinematics": KINEMATICS, "joint_centers": JOINT_CENTERS, "summary": SUMMARY,
                      "overlay_video": OVERLAY_VIDEO, "overlay_sheet": OVERLAY_SHEET},
    )


@router.get("/model", response_model=ModelPublic, summary="Bodies, segments and angle panels of the kinematic model")
def model() -> ModelPublic:
    """Public (no key): the same for every job. ``joint_centers.trc`` has one point per body (its joint
    centre, mm, OpenSim ground frame, Y up); a segment joins a parent body's point to its child's."""
    return _model()


def mount_web(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
