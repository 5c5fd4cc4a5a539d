"""Response models of the API (request fields are multipart form fields, see the jobs route)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


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
    status: str = Field(description="queued | running | succeeded | failed | canceled", examples=["running"])
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
    segments: list[tuple[str, str]] = Field(description="(parent, child) bodies joined by a joint")
    angle_panels: dict[str, list[str]] = Field(description="plot panels → coordinates of kinematics.mot (degrees)")


class JobList(BaseModel):
    items: list[JobPublic]
    total: int
    offset: int
    limit: int


ERROR_RESPONSES = {
    400: {"model": ErrorResponse, "description": "Invalid input (the message says what)"},
    401: {"model": ErrorResponse, "description": "Missing or wrong API key"},
    404: {"model": ErrorResponse, "description": "No such job for this key, or no such result"},
    413: {"model": ErrorResponse, "description": "Upload too large"},
    415: {"model": ErrorResponse, "description": "Not a supported video/container"},
    422: {"model": ErrorResponse, "description": "Missing or malformed field"},
    503: {"model": ErrorResponse, "description": "Queue or storage unavailable"},
}
