"""Video → kinematics pipeline. Entry point: :func:`run_pipeline` (see ``contract``)."""

from worker.pipeline.contract import (
    RESULT_FILES,
    STAGES,
    PipelineError,
    PipelineRequest,
    PipelineResult,
    ProgressCallback,
)
from worker.pipeline.run import run_pipeline

__all__ = [
    "RESULT_FILES",
    "STAGES",
    "PipelineError",
    "PipelineRequest",
    "PipelineResult",
    "ProgressCallback",
    "run_pipeline",
]
