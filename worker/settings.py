"""One typed configuration for the API and the workers, read from the environment.

Environment variables (all optional; names are the upper-case field names):

REDIS_URL            Redis for the Celery broker, results and job records (redis://127.0.0.1:6379/0)
DATA_DIR             uploads and results live under DATA_DIR/jobs/<id>/ (./var/data)
API_KEYS             comma-separated API keys, each either the key itself or ``sha256:<hex digest>``
                     (recommended: only digests at rest); keys are never logged
OPEN_MODE            true to accept requests without a key (development only; refused in production)
ENVIRONMENT          development | test | staging | production (anything else is refused)
MAX_UPLOAD_MB        per-file upload limit (500); a whole POST /jobs body may hold two such videos, a 1 MiB
                     calibration and 64 KiB of form fields (``max_body_bytes``); both are enforced as bytes arrive
UPLOAD_IDLE_TIMEOUT_S  an upload that sends no bytes for this long is answered 408 and dropped (30)
MAX_VIDEO_SECONDS    longest accepted video (120)
MAX_DURATION_MISMATCH_S  largest accepted difference between the two videos' durations (2.0)
JOB_TTL_S            how long job records and files are kept (604800 = 7 days)
TASK_SOFT_TIME_LIMIT_S / TASK_TIME_LIMIT_S  per-job time limits (1800 / 1900)
STALE_JOB_S          a running job whose worker heartbeat is older than this is re-queued (20)
HEARTBEAT_S          how often a running job's worker refreshes its heartbeat (2)
REAP_INTERVAL_S      how often the scheduler (beat) looks for stale jobs (5)
MAX_ATTEMPTS         how many times a job may start before it is failed as lost (2)
JOB_QUEUE            queue new jobs go to: ``gpu`` or ``cpu`` (cpu)
UPLOAD_GRACE_S       a job folder without a record is kept this long after its last write (900), so the
                     cleanup never removes an upload still being received
KINEMATICS_CHECKPOINT  network checkpoint manifest (or weights file) the pipeline uses (the bundled one)
KINEMATICS_MIRROR_AVERAGE  average each window's answer with its mirror image's (false: one network pass)
KINEMATICS_YOLO_WEIGHTS  optional YOLOv8-seg weights file; detection uses it instead of MediaPipe's mask
                     (needs the ``yolo`` extra; nothing is downloaded)
DETECT_PROCESSES     how many views are detected at once, 1 or 2 (2 when the machine has two cores)
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Largest calibration TOML accepted with a job (bytes).
MAX_CALIBRATION_BYTES = 1 << 20
#: Room in a ``POST /jobs`` body for the text fields, part headers and boundaries (bytes).
MAX_FORM_OVERHEAD_BYTES = 64 << 10


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Settings(BaseSettings):
    # empty variables count as unset (docker-compose passes ``${NAME:-}`` through as "")
    model_config = SettingsConfigDict(extra="ignore", env_ignore_empty=True)

    redis_url: str = "redis://127.0.0.1:6379/0"
    data_dir: Path = Path("var/data")
    api_keys: str = ""
    open_mode: bool = False
    environment: Literal["development", "test", "staging", "production"] = "development"
    max_upload_mb: int = 500
    max_video_seconds: float = 120.0
    max_duration_mismatch_s: float = 2.0
    job_ttl_s: int = 7 * 24 * 3600
    task_soft_time_limit_s: int = 1800
    task_time_limit_s: int = 1900
    stale_job_s: int = Field(default=20, ge=1)
    max_attempts: int = 2
    job_queue: Literal["cpu", "gpu"] = "cpu"
    heartbeat_s: float = Field(default=2.0, gt=0)
    reap_interval_s: float = Field(default=5.0, gt=0)
    upload_grace_s: float = 2400.0
    upload_idle_timeout_s: float = Field(default=30.0, gt=0)
    upload_deadline_s: float = Field(default=1800.0, gt=0)
    header_timeout_s: float = Field(default=15.0, gt=0)
    kinematics_checkpoint: Path | None = None
    # Average each window's answer with that of its mirror image (both views flipped, left and right
    # swapped; see model_store.network.mirror): two network passes for a slightly better network answer
    # (held-out MPJPE -3 to -4 %, hip/knee/ankle -0.1 deg; no change after the fit). Off by default:
    # it doubles the network's time.
    kinematics_mirror_average: bool = False
    # Put back left/right labels that one view's detector swapped (worker/pipeline/geometry/sides.py; needs a
    # calibration). On by default; off only to measure what it does.
    kinematics_agree_sides: bool = True
    # Without a calibration, estimate the two cameras from the person (worker/pipeline/geometry/rig_estimate.py)
    # instead of assuming the default rig. On by default; off only to measure what it does.
    kinematics_self_calibrate: bool = True
    kinematics_yolo_weights: Path | None = None
    detect_processes: int | None = Field(default=None, ge=1, le=2)

    @model_validator(mode="after")
    def _safe(self) -> Settings:
        if self.environment == "production" and self.open_mode:
            raise ValueError("OPEN_MODE cannot be enabled in production")
        if self.task_time_limit_s <= self.task_soft_time_limit_s:
            raise ValueError("TASK_TIME_LIMIT_S must exceed TASK_SOFT_TIME_LIMIT_S")
        if self.upload_deadline_s < self.upload_idle_timeout_s:
            raise ValueError("UPLOAD_DEADLINE_S must be at least UPLOAD_IDLE_TIMEOUT_S")
        if self.upload_grace_s <= self.upload_deadline_s:  # no upload is still being received after its deadline
            raise ValueError("UPLOAD_GRACE_S must exceed UPLOAD_DEADLINE_S")
        return self

    @property
    def key_hashes(self) -> frozenset[str]:
        """sha256 digests of the configured keys (raw keys are hashed here and not kept)."""
        out = set()
        for item in (k.strip() for k in self.api_keys.split(",")):
            if item:
                out.add(item[7:].lower() if item.startswith("sha256:") else hash_key(item))
        return frozenset(out)

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def max_body_bytes(self) -> int:
        """Largest ``POST /jobs`` body: two videos, the calibration and the form fields with part headers."""
        return 2 * self.max_upload_bytes + MAX_CALIBRATION_BYTES + MAX_FORM_OVERHEAD_BYTES

    @property
    def jobs_dir(self) -> Path:
        return self.data_dir / "jobs"


@lru_cache
def get_settings() -> Settings:
    return Settings()
