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
from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from app.api.deps import OwnerDep, SettingsDep, StoreDep
from app.core.errors import ApiError
from app.schemas import ERROR_RESPONSES, ErrorDetail, JobList, JobPublic, ResultFile, job_form_openapi
from app.upload_stream import multipart_boundary, receive_job_upload
from app.uploads import check_calibration, check_durations, check_rig, check_subject, check_video, remove_dir
from model_store import results
from model_store.conventions import VIEW_NAMES
from worker.celery_app import celery_app
from worker.errors import ErrorCode
from worker.jobs import ACTIVE, Job, JobStatus, JobStore
from worker.tasks import enqueue, reap_job

router = APIRouter(prefix="/jobs", tags=["jobs"])

#: Downloadable result names → content types (a fixed set: never a path from the user).
RESULT_TYPES = results.CONTENT_TYPES


def _ts(t: float | None) -> datetime | None:
    return datetime.fromtimestamp(t, tz=UTC) if t else None


def to_public(job: Job) -> JobPublic:
    base = f"/jobs/{job.id}"
    return JobPublic(
        id=job.id, status=job.status, stage=job.stage, progress=job.progress,
        created_at=datetime.fromtimestamp(job.created_at, tz=UTC),
        updated_at=datetime.fromtimestamp(job.updated_at, tz=UTC), started_at=_ts(job.started_at),
        finished_at=_ts(job.finished_at),
        error=ErrorDetail(code=job.error_code, message=job.error_message or "") if job.error_code else None,
        results=[ResultFile(name=r["name"], size=r["size"], url=f"{base}/results/{r['name']}") for r in job.results],
        results_zip=f"{base}/results.zip" if job.status == JobStatus.SUCCEEDED else None,
    )


def _owned(store: JobStore, job_id: str, owner: str) -> Job:
    job = store.get(job_id) if job_id.isalnum() else None
    if job is None or job.owner != owner:
        raise ApiError(404, ErrorCode.NOT_FOUND, f"no job {job_id!r} for this API key")
    return job


@router.post("", status_code=202, response_model=JobPublic, responses=ERROR_RESPONSES,
             summary="Submit a front and a side video", openapi_extra=job_form_openapi())
async def create_job(request: Request, response: Response, settings: SettingsDep, store: StoreDep,
                     owner: OwnerDep) -> JobPublic:
    """A multipart body (schema below), read as it arrives: each file is written straight to the job's
    folder and refused with 413 as soon as it passes its limit (`MAX_UPLOAD_MB` per video, 1 MB for the
    calibration), or the whole body passes two videos + 1 MB + 64 KB; a declared `Content-Length` over
    that is refused before any byte is read. An upload that sends nothing for `UPLOAD_IDLE_TIMEOUT_S`
    is answered 408. Unknown or repeated fields are 422. Nothing of a refused upload stays on disk."""
    boundary = multipart_boundary(request, settings)
    job = Job(id=store.new_id(), owner=owner)
    inp = store.job_dir(job.id) / "input"
    inp.mkdir(parents=True, exist_ok=True)
    try:
        upload = await receive_job_upload(request, boundary, inp, settings)
        form = upload.form
        if upload.calibration:
            await run_in_threadpool(check_calibration, inp / "calibration.toml", form.front_camera, form.side_camera)
        # off the event loop: polls stay fast while a long upload is checked
        infos = [await run_in_threadpool(check_video, inp / upload.videos[f], f, settings) for f in VIEW_NAMES]
        check_durations(infos[0], infos[1], settings)
        check_subject(form.subject, infos[0])
        await run_in_threadpool(check_rig, inp / "calibration.toml" if upload.calibration else None,
                                form.front_camera, form.side_camera, (infos[0], infos[1]))
        job.params = {"front_file": upload.videos["front"], "side_file": upload.videos["side"],
                      "calibration": upload.calibration, **form.model_dump()}
        store.create(job)
        enqueue(job.id)
    except (ApiError, RequestValidationError):
        remove_dir(store.job_dir(job.id))
        raise
    except redis.RedisError as exc:
        with contextlib.suppress(redis.RedisError):  # no 'queued' record may outlive a failed enqueue
            store.delete(job)
        remove_dir(store.job_dir(job.id))
        raise ApiError(503, ErrorCode.UNAVAILABLE, "the job queue is unavailable; please retry shortly") from exc
    except BaseException:  # a bug (answered 500) or a cancelled request: nothing of the upload stays behind
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
    jobs, total = store.list_for_owner(owner, offset, limit)
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
        store.update(job.id, status=JobStatus.CANCELED, finished_at=time.time(), stage=None)
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
        raise ApiError(404, ErrorCode.NOT_FOUND, f"{name!r} is not a result name; known: {', '.join(RESULT_TYPES)}")
    path = store.job_dir(job.id) / "output" / name
    if job.status != JobStatus.SUCCEEDED or not path.is_file():
        raise ApiError(404, ErrorCode.NOT_FOUND, f"job {job.id} has no result {name!r} (status {job.status})")
    return path


def _binary(media_types: list[str], description: str) -> dict[int | str, dict]:
    """The OpenAPI ``responses`` of a download: 200 with the media types it serves (bytes), and the errors."""
    content = {t: {"schema": {"type": "object"} if t == "application/json" else {"type": "string", "format": "binary"}}
               for t in media_types}
    return {200: {"description": description, "content": content}, **ERROR_RESPONSES}


#: Every media type a result file is served with (``model_store.results.CONTENT_TYPES``), each once.
RESULT_MEDIA_TYPES = sorted(set(RESULT_TYPES.values()))


@router.get("/{job_id}/results.zip", response_class=StreamingResponse, summary="All results as one archive",
            responses=_binary(["application/zip"], "a zip of every result file, under a folder named after the job"))
def results_zip(job_id: str, store: StoreDep, owner: OwnerDep) -> StreamingResponse:
    job = _owned(store, job_id, owner)
    paths = [(n, store.job_dir(job.id) / "output" / n) for n in RESULT_TYPES]
    paths = [(n, p) for n, p in paths if job.status == JobStatus.SUCCEEDED and p.is_file()]
    if not paths:
        raise ApiError(404, ErrorCode.NOT_FOUND, f"job {job.id} has no results (status {job.status})")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, p in paths:
            zf.write(p, f"{job.id}/{name}")
    buf.seek(0)
    return StreamingResponse(buf, media_type="application/zip",
                             headers={"Content-Disposition": f'attachment; filename="{job.id}.zip"'})


@router.get("/{job_id}/results/{name:path}", response_class=FileResponse, summary="Download one result file",
            responses=_binary(RESULT_MEDIA_TYPES, "the file, with its own media type (text, XML, JSON, CSV, MP4 "
                              "or PNG: see the result names)"))
def result_file(job_id: str, name: str, store: StoreDep, owner: OwnerDep) -> FileResponse:
    job = _owned(store, job_id, owner)
    path = _result_path(store, job, name)
    return FileResponse(path, media_type=RESULT_TYPES[name], filename=Path(name).name)
