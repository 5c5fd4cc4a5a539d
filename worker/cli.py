"""``kinematics-estimate``: run the video → OpenSim pipeline on local files, no server needed.

    kinematics-estimate --front F.mp4 --side S.mp4 [--calibration C.toml --front-camera A --side-camera B]
                        [--offset-frames K] [--detections DIR] [--height-m H] [--mass-kg M]
                        [--refine fit|none] [--no-overlay] [--subject RULE|X,Y] --out DIR

Exit status 0 on success; otherwise a one-line reason on stderr and a non-zero status
(2 for problems with the input, 1 for internal errors).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError
from tqdm import tqdm

from worker.params import JobForm
from worker.pipeline import STAGES, PipelineError, PipelineRequest, run_pipeline
from worker.pipeline.contract import REFINE_MODES


class _Bars:
    """One tqdm bar per stage, advanced by the pipeline's progress callback."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: tqdm | None = None
        self.stage: str | None = None

    def __call__(self, stage: str, fraction: float) -> None:
        if not self.enabled:
            return
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(total=100, desc=f"{STAGES.index(stage) + 1}/{len(STAGES)} {stage}", unit="%",
                            bar_format="{desc:<16} {bar} {percentage:3.0f}% {elapsed}")
        assert self.bar is not None
        self.bar.n = int(round(fraction * 100))
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _existing(path: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise argparse.ArgumentTypeError(f"{path} does not exist")
    return p


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="kinematics-estimate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--front", type=_existing, required=True, help="front-view video")
    ap.add_argument("--side", type=_existing, required=True, help="side-view video")
    ap.add_argument("--calibration", type=_existing, help="Pose2Sim calibration TOML")
    ap.add_argument("--front-camera", help="name of the front camera in the calibration")
    ap.add_argument("--side-camera", help="name of the side camera in the calibration")
    ap.add_argument("--offset-frames", type=int,
                    help="frame f of the front video matches frame f+K of the side video (default: estimate)")
    ap.add_argument("--detections", type=_existing, help="directory with precomputed front.npz/side.npz detections")
    ap.add_argument("--height-m", type=float, help="subject height in metres (rescales the model)")
    ap.add_argument("--mass-kg", type=float, help="subject mass in kilograms (for the .osim)")
    ap.add_argument("--refine", choices=REFINE_MODES, default="fit",
                    help="'fit': fit the model to both views' keypoints starting from the network (default); "
                         "'none': the network's answer only")
    ap.add_argument("--no-overlay", action="store_true",
                    help="do not write overlay.mp4/overlay.png (both views with the keypoints and the model)")
    ap.add_argument("--subject", metavar="RULE|X,Y",
                    help="who to follow when several people are in view: 'largest' (default), 'center', or a point "
                         "X,Y (full-resolution px) on the person in the front video's first frames")
    ap.add_argument("--out", type=Path, required=True, help="output directory")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:  # the same checks as the API's form (ranges, refine, subject)
        form = JobForm(front_camera=args.front_camera, side_camera=args.side_camera, offset_frames=args.offset_frames,
                       height_m=args.height_m, mass_kg=args.mass_kg, refine=args.refine, overlay=not args.no_overlay,
                       subject=args.subject)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "--" + str(err["loc"][0]).replace("_", "-") if err.get("loc") else "input"
        print(f"error: {name}: {err['msg']}", file=sys.stderr)
        return 2
    request = PipelineRequest(
        front_video=args.front, side_video=args.side, out_dir=args.out, calibration=args.calibration,
        detections_dir=args.detections, **form.model_dump(),
    )
    bars = _Bars(enabled=not args.quiet)
    try:
        result = run_pipeline(request, progress=bars)
    except PipelineError as exc:
        bars.close()
        print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 2
    except Exception as exc:  # last resort: one line, never a traceback
        bars.close()
        print(f"error [internal]: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1
    bars.close()
    for warning in result.summary.get("warnings", []):
        print(f"warning: {warning}", file=sys.stderr)
    print(f"wrote {len(result.files)} files to {result.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
