"""Models of the API: the form fields of ``POST /jobs`` (``JobForm``) and the responses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from worker.jobs import JobStatus
from worker.params import JobForm

#: The files of ``POST /jobs`` (multipart parts with a filename), in the order they are documented.
JOB_FILES = {
    "front": "front-view video (.mp4, .mov, …)",
    "side": "side-view video",
    "calibration": "Pose2Sim calibration TOML (optional; at most 1 MiB)",
}


def job_form_openapi() -> dict[str, Any]:
    """``openapi_extra`` for ``POST /jobs``: the multipart body (files as binary, then ``JobForm``'s fields)."""
    form = JobForm.model_json_schema()
    files = {name: {"type": "string", "format": "binary", "description": text} for name, text in JOB_FILES.items()}
    schema = {"type": "object", "title": "JobUpload", "required": ["front", "side"],
              "properties": {**files, **form["properties"]}}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


class ErrorDetail(BaseModel):
    code: str = Field(examples=["video_undecodable"])
    message: str = Field(examples=["front.mp4 is not a readable video"])


class ErrorResponse(BaseModel):
    error: ErrorDetail


class ResultFile(BaseModel):
    name: str = Field(examples=["kinematics.mot"])
    size: int = Field(description="bytes", examples=[52344])
    url: str = Field(examples=["/jobs/3f2a.../results/kinematics.mot"])


class JobPublic(BaseModel):
    id: str
    status: JobStatus = Field(description="queued → running → succeeded | failed; canceled by DELETE while queued "
                                          "or running", examples=["running"])
    stage: str | None = Field(None, examples=["detect"])
    progress: float = Field(0.0, ge=0.0, le=1.0)
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: ErrorDetail | None = None
    results: list[ResultFile] = []
    results_zip: str | None = None


class ModelPublic(BaseModel):
    name: str = Field(examples=["Rajagopal2016"])
    bodies: list[str] = Field(description="body names; joint_centers.trc has one point per body, in this order")
    segments: list[Annotated[list[str], Field(min_length=2, max_length=2)]] = Field(
        description="[parent, child] bodies joined by a joint")
    angle_panels: dict[str, list[str]] = Field(description="plot panels → coordinates of kinematics.mot (degrees)")
    result_files: dict[str, str] = Field(
        description="role → result file name: kinematics, joint_centers, summary, overlay_video, overlay_sheet")


class JobList(BaseModel):
    items: list[JobPublic]
    total: int
    offset: int
    limit: int


#: Error answers every route may give, for the OpenAPI spec (FastAPI's ``responses`` type).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Invalid input (the message says what)"},
    401: {"model": ErrorResponse, "description": "Missing or wrong API key"},
    404: {"model": ErrorResponse, "description": "No such job for this key, or no such result"},
    408: {"model": ErrorResponse, "description": "The upload stalled (no bytes for UPLOAD_IDLE_TIMEOUT_S)"},
    413: {"model": ErrorResponse, "description": "Upload too large (refused as the bytes arrive)"},
    415: {"model": ErrorResponse, "description": "Not a supported video/container"},
    422: {"model": ErrorResponse, "description": "Missing or malformed field"},
    503: {"model": ErrorResponse, "description": "Queue or storage unavailable"},
}
