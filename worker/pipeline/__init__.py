"""Video → kinematics pipeline. Entry point: :func:`run_pipeline` (see ``contract``).

``run_pipeline`` is imported on first use, so the detection subprocesses
(``python -m worker.pipeline.stages.detect``) start without loading the network's libraries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from model_store.results import RESULT_FILES
from worker.pipeline.contract import (
    STAGES,
    PipelineError,
    PipelineRequest,
    PipelineResult,
    ProgressCallback,
)

if TYPE_CHECKING:
    from worker.pipeline.run import run_pipeline


def __getattr__(name: str) -> Any:
    if name == "run_pipeline":
        from worker.pipeline.run import run_pipeline

        return run_pipeline
    raise AttributeError(f"module 'worker.pipeline' has no attribute {name!r}")


__all__ = [
    "RESULT_FILES",
    "STAGES",
    "PipelineError",
    "PipelineRequest",
    "PipelineResult",
    "ProgressCallback",
    "run_pipeline",
]
