"""A stand-in pipeline for service lifecycle tests (cancel, worker kill, Redis restart).

It walks through the real stage names, reporting progress, sleeping ``offset_frames / 10`` seconds
per stage (0.1 s when no offset is given), and writes REAL OpenSim files through the model core
(the model-core demo motion), so downloads can be checked with OpenSim.
"""

from __future__ import annotations

import json
import time

from model_store import demo
from worker.pipeline.contract import STAGES, PipelineRequest, PipelineResult


def run(request: PipelineRequest, progress=None) -> PipelineResult:  # type: ignore[no-untyped-def]
    per_stage = (request.offset_frames or 1) / 10.0
    for stage in STAGES:
        for k in range(4):
            if progress:
                progress(stage, k / 4)
            time.sleep(per_stage / 4)  # pacing: the stand-in's "work" (a stage lasts offset_frames / 10 s)
    paths = demo.run(request.out_dir)
    summary = {"stage_seconds": dict.fromkeys(STAGES, per_stage), "warnings": []}
    (request.out_dir / "summary.json").write_text(json.dumps(summary))
    return PipelineResult(request.out_dir, [p.name for p in paths] + ["summary.json"], summary)
