"""Speed and accuracy of estimating the cameras from the person (:func:`worker.pipeline.geometry.rig_estimate.
cameras_from_person`), on held-out clips with detections perturbed like a real detector's, without their
calibration.

    .venv/bin/python bench/bench_self_calibration.py [--kinds run,squat] [--clips 2] [--seconds 10,60] [--split eval]

Per clip and length: the wall time of the sync search and of the rig estimate, the sync error (frames),
the side camera's rotation error relative to the front camera (°), the error in the direction between the
cameras (°), each focal length's error (%), and the vertical's error (°).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from training.eval.clips import make_clip
from worker.pipeline.geometry.rig import default_rig
from worker.pipeline.geometry.rig_estimate import cameras_from_person, offset_from_person
from worker.pipeline.stages.detect import track_from_detections
from worker.pipeline.stages.synchronise import synchronise


def _deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1.0, 1.0))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kinds", default="run,squat,arm_raises")
    ap.add_argument("--clips", type=int, default=2)
    ap.add_argument("--seconds", default="10")
    ap.add_argument("--split", default="eval", choices=("eval", "calibration"))
    args = ap.parse_args()
    for seconds in (float(s) for s in args.seconds.split(",")):
        for kind in args.kinds.split(","):
            for i in range(args.clips):
                clip = make_clip(kind, args.split, i, seconds=seconds)
                front, side = (track_from_detections(v, 64) for v in clip.detections)
                t0 = time.perf_counter()
                sync = synchronise(front, side)
                offset_from_person(front, side)
                t1 = time.perf_counter()
                rig = default_rig(front.image_size, side.image_size)
                found = cameras_from_person(front, side, sync, (rig.front, rig.side), None)
                t2 = time.perf_counter()
                est, cams = found.estimate, clip.cameras
                if est is None:
                    print(f"{kind} #{i} {seconds:g} s: no rig ({found.warnings[0]})")
                    continue
                r_true, r_est = cams[1].R @ cams[0].R.T, est.side.R @ est.front.R.T
                rot = float(np.degrees(np.arccos(np.clip((np.trace(r_true.T @ r_est) - 1) / 2, -1, 1))))
                direction = _deg(cams[0].R @ (cams[1].center - cams[0].center), est.front.R @ (est.side.center
                                                                                              - est.front.center))
                focal = [100 * (e.K[0, 0] / c.K[0, 0] - 1) for c, e in zip(cams, (est.front, est.side), strict=True)]
                up = _deg(cams[0].R @ np.array([0.0, 0.0, 1.0]), est.front.R @ np.array([0.0, 0.0, 1.0]))
                print(f"{kind} #{i} {seconds:g} s ({front.n_frames} frames): sync search {t1 - t0:.1f} s, "
                      f"whole estimate {t2 - t1:.1f} s; sync error "
                      f"{found.sync.offset_frames - clip.perturbation['sync_shift_frames']:+d} frames, rotation "
                      f"{rot:.1f}°, direction {direction:.1f}°, focal {focal[0]:+.0f} / {focal[1]:+.0f} %, "
                      f"vertical {up:.1f}°", flush=True)


if __name__ == "__main__":
    main()
