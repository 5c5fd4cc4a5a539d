"""Video → kinematics pipeline. Entry point: :func:`run_pipeline` (see ``contract``)."""

from worker.pipeline.contract import (
    RESULT_FILES,
    STAGES,
    PipelineError,
    PipelineRequest,
    PipelineResult,
    ProgressCallback,
)

__all__ = [
    "RESULT_FILES",
    "STAGES",
    "PipelineError",
    "PipelineRequest",
    "PipelineResult",
    "ProgressCallback",
]
