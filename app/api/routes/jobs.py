"""Jobs: submit two videos, poll, download results, cancel or delete."""

from __future__ import annotations

import contextlib
import io
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import redis
from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BeforeValidator
from starlette.concurrency import run_in_threadpool

from app.api.deps import OwnerDep, SettingsDep, StoreDep
from app.core.errors import ApiError
from app.schemas import ERROR_RESPONSES, ErrorDetail, JobList, JobPublic, ResultFile
from app.uploads import check_calibration, check_durations, check_video, remove_dir, save_upload, video_name
from worker.celery_app import celery_app
from worker.jobs import ACTIVE, Job, JobStore
from worker.pipeline.contract import REFINE_MODES
from worker.tasks import enqueue, reap_job

router = APIRouter(prefix="/jobs", tags=["jobs"])

#: Downloadable result names → content types (a fixed set: never a path from the user).
RESULT_TYPES = {
    "kinematics.mot": "text/plain; charset=utf-8",
    "model_scaled.osim": "application/xml",
    "joint_centers.trc": "text/plain; charset=utf-8",
    "summary.json": "application/json",
    "fit_residuals.csv": "text/csv; charset=utf-8",
    "kinematics_sd.sto": "text/plain; charset=utf-8",
    "overlay.mp4": "video/mp4",
    "overlay.png": "image/png",
    **{f"plots/{p}.png": "image/png"
       for p in ("overview", "hip_flexion", "knee_angle", "ankle_angle", "pelvis", "lumbar", "shoulders")},
}


def _ts(t: float | None) -> datetime | None:
    return datetime.fromtimestamp(t, tz=UTC) if t else None


def to_public(job: Job) -> JobPublic:
    base = f"/jobs/{job.id}"
    return JobPublic(
        id=job.id, status=job.status, stage=job.stage, progress=job.progress,
        created_at=_ts(job.created_at), updated_at=_ts(job.updated_at), started_at=_ts(job.started_at),
        finished_at=_ts(job.finished_at),
        error=ErrorDetail(code=job.error_code, message=job.error_message or "") if job.error_code else None,
        results=[ResultFile(name=r["name"], size=r["size"], url=f"{base}/results/{r['name']}") for r in job.results],
        results_zip=f"{base}/results.zip" if job.status == "succeeded" else None,
    )


def _owned(store: JobStore, job_id: str, owner: str) -> Job:
    job = store.get(job_id) if job_id.isalnum() else None
    if job is None or job.owner != owner:
        raise ApiError(404, "not_found", f"no job {job_id!r} for this API key")
    return job


def _float_in(name: str, value: float | None, lo: float, hi: float) -> None:
    if value is not None and not lo <= value <= hi:
        raise ApiError(422, "invalid_request", f"{name} must be between {lo} and {hi}")


def _null_is_absent(value: object) -> object:
    """Optional numeric form fields sent empty or as a literal ``null`` mean "not given"."""
    return None if isinstance(value, str) and value.strip().lower() in ("", "null") else value


@router.post("", status_code=202, response_model=JobPublic, responses=ERROR_RESPONSES,
             summary="Submit a front and a side video")
async def create_job(
    request: Request, response: Response, settings: SettingsDep, store: StoreDep, owner: OwnerDep,
    front: Annotated[UploadFile, File(description="front-view video (.mp4, .mov, …)")],
    side: Annotated[UploadFile, File(description="side-view video")],
    calibration: Annotated[UploadFile | None, File(description="Pose2Sim calibration TOML")] = None,
    front_camera: Annotated[str | None, Form(examples=["cam01"])] = None,
    side_camera: Annotated[str | None, Form(examples=["cam04"])] = None,
    offset_frames: Annotated[int | None, BeforeValidator(_null_is_absent),
                             Form(description="frame f of front = frame f+K of side")] = None,
    height_m: Annotated[float | None, BeforeValidator(_null_is_absent),
                        Form(description="subject height, metres")] = None,
    mass_kg: Annotated[float | None, BeforeValidator(_null_is_absent),
                       Form(description="subject mass, kilograms")] = None,
    refine: Annotated[str, Form(description="'fit' (fit the model to both views' keypoints, default) or "
                                            "'none' (the network's answer only)")] = "fit",
    overlay: Annotated[bool, Form(description="also write overlay.mp4 and overlay.png (both views with the "
                                              "detected keypoints and the model drawn on them)")] = True,
) -> JobPublic:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > 2 * settings.max_upload_bytes + (1 << 20):
        raise ApiError(413, "payload_too_large", f"the upload exceeds the {settings.max_upload_mb} MB per-file limit")
    _float_in("height_m", height_m, 0.5, 2.5)
    _float_in("mass_kg", mass_kg, 10.0, 300.0)
    if offset_frames is not None and abs(offset_frames) > 600:
        raise ApiError(422, "invalid_request", "offset_frames must be within ±600")
    if refine not in REFINE_MODES:
        raise ApiError(422, "invalid_request", f"refine must be one of {', '.join(REFINE_MODES)}")
    names = {"front": video_name(front, "front"), "side": video_name(side, "side")}
    job = Job(id=store.new_id(), owner=owner)
    inp = store.job_dir(job.id) / "input"
    inp.mkdir(parents=True, exist_ok=True)
    try:
        for field, upload in (("front", front), ("side", side)):
            await save_upload(upload, inp / names[field], settings.max_upload_bytes)
        if calibration is not None:
            await save_upload(calibration, inp / "calibration.toml", 1 << 20)
            await run_in_threadpool(check_calibration, inp / "calibration.toml", front_camera, side_camera)
        # off the event loop: polls stay fast while a long upload is checked
        infos = [await run_in_threadpool(check_video, inp / names[f], f, settings) for f in ("front", "side")]
        check_durations(infos[0], infos[1], settings)
        job.params = {"front_file": names["front"], "side_file": names["side"], "calibration": calibration is not None,
                      "front_camera": front_camera, "side_camera": side_camera, "offset_frames": offset_frames,
                      "height_m": height_m, "mass_kg": mass_kg, "refine": refine, "overlay": overlay}
        store.create(job)
        enqueue(job.id)
    except ApiError:
        remove_dir(store.job_dir(job.id))
        raise
    except redis.RedisError as exc:
        with contextlib.suppress(redis.RedisError):  # no 'queued' record may outlive a failed enqueue
            store.delete(job)
        remove_dir(store.job_dir(job.id))
        raise ApiError(503, "unavailable", "the job queue is unavailable; please retry shortly") from exc
    except Exception:  # a bug: answered 500 by the app's handler, but nothing of the upload stays behind
        remove_dir(store.job_dir(job.id))
        raise
    response.headers["Location"] = f"/jobs/{job.id}"
    stored = store.get(job.id)
    assert stored is not None
    return to_public(stored)


#: Largest ``offset`` accepted by ``GET /jobs`` (larger values are a client error, answered 422).
MAX_LIST_OFFSET = 1_000_000


@router.get("", response_model=JobList, responses=ERROR_RESPONSES, summary="Your jobs, newest first")
def list_jobs(
    store: StoreDep, owner: OwnerDep,
    offset: Annotated[int, Query(ge=0, le=MAX_LIST_OFFSET)] = 0, limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> JobList:
    jobs, total = store.list(owner, offset, limit)
    return JobList(items=[to_public(j) for j in jobs], total=total, offset=offset, limit=limit)


@router.get("/{job_id}", response_model=JobPublic, responses=ERROR_RESPONSES, summary="Status of a job")
def get_job(job_id: str, store: StoreDep, owner: OwnerDep) -> JobPublic:
    job = _owned(store, job_id, owner)
    if reap_job(store, job):  # its worker vanished: re-queued or failed
        job = _owned(store, job_id, owner)
    return to_public(job)


@router.delete("/{job_id}", status_code=200, response_model=JobPublic | None,
               responses={**ERROR_RESPONSES, 204: {"description": "a finished job was deleted (no body)"}},
               summary="Cancel a queued/running job, or delete a finished one (files included)")
def delete_job(job_id: str, store: StoreDep, owner: OwnerDep, response: Response) -> JobPublic | None:
    job = _owned(store, job_id, owner)
    if job.status in ACTIVE:
        store.update(job.id, status="canceled", finished_at=time.time(), stage=None)
        if job.task_id:
            celery_app.control.revoke(job.task_id, terminate=True, signal="SIGTERM")
        remove_dir(store.job_dir(job.id))
        canceled = store.get(job.id)
        assert canceled is not None
        return to_public(canceled)
    store.delete(job)
    response.status_code = 204
    return None


def _result_path(store: StoreDep, job: Job, name: str) -> Path:
    if name not in RESULT_TYPES:
        raise ApiError(404, "not_found", f"{name!r} is not a result name; known: {', '.join(RESULT_TYPES)}")
    path = store.job_dir(job.id) / "output" / name
    if job.status != "succeeded" or not path.is_file():
        raise ApiError(404, "not_found", f"job {job.id} has no result {name!r} (status {job.status})")
    return path


@router.get("/{job_id}/results.zip", responses=ERROR_RESPONSES, summary="All results as one archive")
def results_zip(job_id: str, store: StoreDep, owner: OwnerDep) -> StreamingResponse:
    job = _owned(store, job_id, owner)
    paths = [(n, store.job_dir(job.id) / "output" / n) for n in RESULT_TYPES]
    paths = [(n, p) for n, p in paths if job.status == "succeeded" and p.is_file()]
    if not paths:
        raise ApiError(404, "not_found", f"job {job.id} has no results (status {job.status})")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, p in paths:
            zf.write(p, f"{job.id}/{name}")
    buf.seek(0)
    return StreamingResponse(buf, media_type="application/zip",
                             headers={"Content-Disposition": f'attachment; filename="{job.id}.zip"'})


@router.get("/{job_id}/results/{name:path}", responses=ERROR_RESPONSES, summary="Download one result file")
def result_file(job_id: str, name: str, store: StoreDep, owner: OwnerDep) -> FileResponse:
    job = _owned(store, job_id, owner)
    path = _result_path(store, job, name)
    return FileResponse(path, media_type=RESULT_TYPES[name], filename=Path(name).name)
