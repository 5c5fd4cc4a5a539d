"""One typed configuration for the API and the workers, read from the environment.

Every setting is a field below with its ``description``; the environment variable is the field's
name in upper case, and an empty value counts as unset. ``docs/configuration.md`` holds the table
this module generates (``python -m worker.settings --write``; a test keeps the two identical).
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

    redis_url: str = Field(default="redis://127.0.0.1:6379/0",
                           description="Redis for the Celery broker, task results and job records")
    data_dir: Path = Field(default=Path("var/data"), description="uploads and results live under DATA_DIR/jobs/JOB_ID/")
    api_keys: str = Field(default="", description="comma-separated API keys, each the key itself or "
                          "`sha256:<hex digest>` (store digests); keys are never logged")
    open_mode: bool = Field(default=False, description="accept requests without a key (development only; refused "
                            "when ENVIRONMENT=production)")
    environment: Literal["development", "test", "staging", "production"] = Field(
        default="development", description="deployment environment; anything else is refused at start-up")
    max_upload_mb: int = Field(default=500, description="per-file upload limit (MB); a whole POST /jobs body may "
                               "hold two such videos, a 1 MiB calibration and 64 KiB of form fields, enforced as "
                               "bytes arrive")
    max_video_seconds: float = Field(default=120.0, description="longest accepted video (s)")
    max_video_side: int = Field(default=4096, ge=64, description="widest or tallest accepted video (px), read from "
                                "the video's header at upload before any frame is decoded (400 `video_resolution`)")
    max_video_fps: float = Field(default=240.0, gt=0, description="fastest accepted average frame rate (frames per "
                                 "second) at upload (400 `video_frame_rate_too_high`)")
    max_duration_mismatch_s: float = Field(default=2.0, description="largest accepted difference between the two "
                                           "videos' durations (s)")
    metrics_key: str = Field(default="", description="when set, `GET /metrics` needs `Authorization: Bearer "
                             "<METRICS_KEY>` (401 otherwise); unset, it answers anyone: aggregate counts only, no "
                             "job id, owner or key")
    redis_outage_s: float = Field(default=60.0, ge=0, description="a running job whose Redis goes away waits this "
                                  "long for it to come back and goes on, using no extra attempt (s)")
    job_ttl_s: int = Field(default=7 * 24 * 3600, description="how long job records and files are kept (s)")
    task_soft_time_limit_s: int = Field(default=1800, description="a job still running after this is stopped "
                                        "(soft limit, s)")
    task_time_limit_s: int = Field(default=1900, description="hard per-job limit (s); must exceed the soft one")
    stale_job_s: int = Field(default=20, ge=1, description="a running job whose worker heartbeat is older than this "
                             "is re-queued (s)")
    max_attempts: int = Field(default=2, description="how many times a job may start before it fails as "
                              "`worker_lost`")
    job_queue: Literal["cpu", "gpu"] = Field(default="cpu", description="the queue new jobs go to")
    heartbeat_s: float = Field(default=2.0, gt=0, description="how often a running job's worker beats (s)")
    reap_interval_s: float = Field(default=5.0, gt=0, description="how often the watchdog looks for stale jobs (s)")
    upload_grace_s: float = Field(default=2400.0, description="a job folder without a record (expired, or an "
                                  "abandoned upload) is removed only this long after its last write (s); must "
                                  "exceed UPLOAD_DEADLINE_S, so an upload being received is never cleaned up")
    upload_idle_timeout_s: float = Field(default=30.0, gt=0, description="an upload that sends nothing for this long "
                                         "is answered 408 and dropped (s)")
    upload_deadline_s: float = Field(default=1800.0, gt=0, description="an upload still arriving this long after "
                                     "its first byte is answered 408 and dropped (s)")
    header_timeout_s: float = Field(default=15.0, gt=0, description="a request head must arrive within this, else "
                                    "408 and the connection closes (s)")
    kinematics_checkpoint: Path | None = Field(default=None, description="network checkpoint manifest to use "
                                               "(default: the bundled one)")
    kinematics_mirror_average: bool = Field(default=False, description="average each window's answer with its "
                                            "mirror image's (two network passes; see docs/pipeline.md)")
    kinematics_agree_sides: bool = Field(default=True, description="put back left/right labels one view's detector "
                                         "swapped (needs cameras); off only to measure what it does")
    kinematics_self_calibrate: bool = Field(default=True, description="without a calibration, estimate the cameras "
                                            "from the person instead of assuming the default rig; off only to "
                                            "measure what it does")
    kinematics_yolo_weights: Path | None = Field(default=None, description="optional YOLOv8-seg weights file used "
                                                 "instead of MediaPipe's mask (needs the `yolo` extra; nothing is "
                                                 "downloaded)")
    detect_processes: int | None = Field(default=None, ge=1, le=2, description="views detected at once, 1 or 2 "
                                         "(default: 2 on machines with two or more cores)")

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


DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
START, END = "<!-- settings -->", "<!-- /settings -->"


def markdown_table() -> str:
    """Every setting: environment variable, default, meaning (from the fields' descriptions)."""
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "—" if default in (None, "") else f"`{str(default).lower() if isinstance(default, bool) else default}`"
        lines.append(f"| `{name.upper()}` | {shown} | {field.description} |")
    return "\n".join(lines)


def write_table(path: Path = DOC) -> None:
    """Replace the text between the settings markers of ``path`` with :func:`markdown_table`."""
    text = path.read_text()
    head, sep, rest = text.partition(START)
    _, sep2, tail = rest.partition(END)
    if not (sep and sep2):
        raise ValueError(f"{path} has no {START} … {END} markers")
    path.write_text(f"{head}{START}\n{markdown_table()}\n{END}{tail}")


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--write"]:
        write_table()
    else:
        print(markdown_table())
