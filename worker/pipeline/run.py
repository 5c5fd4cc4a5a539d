"""The pipeline entry point: two videos (or precomputed detections) → OpenSim result files."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import av
import numpy as np

from model_store import results
from model_store.biomech import load_definition
from model_store.conventions import MODEL_RATE_HZ, VIEW_NAMES
from model_store.fit import FitSettings
from model_store.geometry.cameras import Camera, save_calibration_toml
from model_store.geometry.self_calibration import RigEstimate
from model_store.keypoints.detections import DetectionsError, ViewDetections, ViewTrack, load_clip_detections
from model_store.network import CheckpointError
from model_store.network.predictor import Predictor
from worker.errors import ErrorCode
from worker.pipeline.contract import PipelineError, PipelineRequest, PipelineResult, ProgressCallback
from worker.pipeline.geometry.rig import select_cameras
from worker.pipeline.geometry.rig_estimate import cameras_from_person
from worker.pipeline.geometry.sides import SidesReport, agree_sides
from worker.pipeline.outputs.overlay import write_overlay
from worker.pipeline.outputs.plots import write_plots
from worker.pipeline.people.identity import IdentityReport, find_switches
from worker.pipeline.people.subject import choose_subject
from worker.pipeline.people.subject_hint import check_point_in_frame, parse_subject
from worker.pipeline.stages.assemble import InitialMotion, assemble, hip_midpoints, initial_motion, write_results
from worker.pipeline.stages.decode import open_video
from worker.pipeline.stages.detect import track_from_detections, track_views
from worker.pipeline.stages.fit import Refined, refine_motion, write_fit_files
from worker.pipeline.stages.infer import InferenceResult, build_inputs, run_windows
from worker.pipeline.stages.synchronise import SyncResult, synchronise
from worker.settings import get_settings

MIN_OVERLAP_FRAMES = 30


def _resample(det: ViewDetections, fps: float) -> ViewDetections:
    """Nearest-frame resampling of detections to ``fps``."""
    if abs(det.fps - fps) < 1e-6:
        return det
    n = int(np.floor((det.n_frames - 1) / det.fps * fps)) + 1
    idx = np.clip(np.rint(np.arange(n) / fps * det.fps).astype(int), 0, det.n_frames - 1)
    return replace(det.take(idx), fps=fps)


def apply_offset(front: ViewTrack, side: ViewTrack, k: int) -> tuple[ViewTrack, ViewTrack, int]:
    """Trim both views to their common span (front f ↔ side f + k); returns the front start frame."""
    f0 = max(0, -k)
    f1 = min(front.n_frames, side.n_frames - k)
    if f1 - f0 < MIN_OVERLAP_FRAMES:
        raise PipelineError(
            "duration_mismatch",
            f"the views overlap for only {max(f1 - f0, 0)} frames at offset {k}; at least {MIN_OVERLAP_FRAMES} needed",
        )
    return front.take(slice(f0, f1)), side.take(slice(f0 + k, f1 + k)), f0


def _switch_message(report: IdentityReport, f0: int, fps: float) -> str:
    where = "; ".join(f"front video frame {s.frame + f0} ({(s.frame + f0) / fps:.2f} s): {', '.join(s.reasons)}"
                      for s in report.switches)
    return (f"the person followed changes mid-clip, so the result would mix two people — at {where}. "
            "Trim the videos to one side of that moment, or film with only the subject in view there")


class _Stages:
    def __init__(self, progress: ProgressCallback | None) -> None:
        self.progress = progress
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[Callable[[float], None]]:
        t0 = time.perf_counter()

        def report(fraction: float) -> None:
            if self.progress is not None:
                self.progress(name, float(min(max(fraction, 0.0), 1.0)))

        report(0.0)
        try:
            yield report
        except (np.linalg.LinAlgError, FloatingPointError) as exc:  # numbers no solver can use: the inputs' fault
            raise PipelineError(ErrorCode.GEOMETRY_DEGENERATE,
                                f"stage {name}: the cameras and keypoints give no solvable geometry "
                                f"({exc.__class__.__name__}: {exc}); check the calibration") from exc
        report(1.0)
        self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - t0, 3)


@dataclass
class CoreResult:
    """What the stages after detection produce: the synchronised views, the front view's first
    frame used, the sync estimate, the network's answer, the complete initial motion, the refined
    motion, warnings for the summary, and which synchronised frames had their left/right labels put
    back (``sides``; None when that step did not run)."""

    front: ViewTrack
    side: ViewTrack
    front_start: int
    sync: SyncResult
    inferred: InferenceResult
    initial: InitialMotion
    refined: Refined
    warnings: list[str]
    sides: SidesReport | None = None
    cameras: tuple[Camera, Camera] | None = None  # the cameras used (estimated from the person without a calibration)
    rig: RigEstimate | None = None  # the estimate, when the cameras came from the person
    identity: dict | None = None  # the identity check's report (calibrated cameras only)


def estimate_from_detections(
    front: ViewTrack | ViewDetections, side: ViewTrack | ViewDetections, cams: tuple[Camera, Camera],
    calibrated: bool, predictor: Predictor, request: PipelineRequest, stages: _Stages | None = None,
    fit_settings: FitSettings | None = None, agree: bool = True, self_calibrate: bool = True,
    check_identity: bool = True,
) -> CoreResult:
    """Synchronise, infer and fit: tracks (or full-frame detections) of both views, at the pipeline
    rate → motion.

    ``cams`` are calibration-world cameras (``calibrated`` says whether they come from a calibration
    file, which allows the geometric sync estimate). Uses ``request.offset_frames``,
    ``request.refine`` and ``request.height_m``; ``fit_settings`` replaces the fit's defaults
    (:class:`~model_store.fit.FitSettings`, for calibrating them). With ``agree`` and calibrated
    cameras, left/right labels one view's detector swapped are put back after synchronising
    (:mod:`worker.pipeline.geometry.sides`). Without a calibration and with ``self_calibrate``, the cameras are
    estimated from the person (:mod:`worker.pipeline.geometry.rig_estimate`; ``cams``, the default rig, is the
    fallback) and then used as calibrated ones. With ``check_identity`` and calibrated (or estimated)
    cameras, a track that changes person mid-clip ends with ``subject_ambiguous`` naming the frames
    (:mod:`worker.pipeline.people.identity`).
    """
    stages = stages or _Stages(None)
    warnings: list[str] = []
    size = predictor.config.input_size
    front, side = (v if isinstance(v, ViewTrack) else track_from_detections(v, size) for v in (front, side))
    with stages.stage("synchronise"):
        sync: SyncResult = synchronise(front, side, request.offset_frames, cams if calibrated else None)
        rig: RigEstimate | None = None
        if not calibrated and self_calibrate:
            found = cameras_from_person(front, side, sync, cams, request.height_m)
            cams, sync, rig = found.cameras, found.sync, found.estimate
            warnings += found.warnings
            calibrated = rig is not None
        front, side, f0 = apply_offset(front, side, sync.offset_frames)
        if sync.estimated and sync.confidence < 0.2:
            warnings.append(f"automatic synchronisation is uncertain (confidence {sync.confidence}); "
                            "pass the frame offset explicitly if you know it")
        sides: SidesReport | None = None
        if agree and calibrated:
            front, side, sides = agree_sides(front, side, cams)
            if note := sides.warning():
                warnings.append(note)
        identity: dict | None = None
        if check_identity and calibrated:
            found_switches = find_switches((front, side), cams, front.fps)
            identity = found_switches.to_json(f0)
            if found_switches.switches:
                raise PipelineError(ErrorCode.SUBJECT_AMBIGUOUS, _switch_message(found_switches, f0, front.fps))
    with stages.stage("infer") as report:
        inputs = build_inputs((front, side), cams)
        if not inputs.valid.any():
            raise PipelineError(ErrorCode.NO_PERSON, "no frame shows the person in both views at once")
        inferred = run_windows(inputs, predictor, progress=report)
        if not np.isfinite(inferred.angles).all(1).any():
            raise PipelineError(ErrorCode.NETWORK_FAILED, "the network gave no usable answer for any frame")
        if not (np.isfinite(inferred.scales).all() and (inferred.scales > 0).all()):
            raise PipelineError(ErrorCode.NETWORK_FAILED,
                                "the network gave no usable body size (are two people in view? "
                                "each view must show the same single person)")
    with stages.stage("fit") as report:
        hip_mid = hip_midpoints((front, side), cams)
        initial = initial_motion(inferred.angles, inferred.scales, hip_mid, request.height_m)
        refined = refine_motion((front, side), cams, inferred.angles, initial, MODEL_RATE_HZ, request.refine,
                                request.height_m, settings=fit_settings, progress=report)
        warnings += refined.warnings
    return CoreResult(front, side, f0, sync, inferred, initial, refined, warnings, sides, cams, rig, identity)


def run_pipeline(request: PipelineRequest, progress: ProgressCallback | None = None) -> PipelineResult:
    """Run every stage; raises :class:`PipelineError` with a stable code on user-facing failures."""
    stages = _Stages(progress)
    warnings: list[str] = []
    try:
        settings = get_settings()
        predictor = Predictor(settings.kinematics_checkpoint, mirror_average=settings.kinematics_mirror_average)
    except CheckpointError as exc:
        raise PipelineError(ErrorCode.NO_CHECKPOINT, str(exc)) from exc
    hint = parse_subject(request.subject)
    out_dir = Path(request.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    subject: dict = {}
    with stages.stage("decode"):  # packet timestamps only: the frames are decoded while detecting
        videos = (open_video(request.front_video), open_video(request.side_video))
        infos = [v.info for v in videos]
        check_point_in_frame(hint, infos[0].width, infos[0].height)
        for v in videos:  # e.g. 100 frames re-timed to 1000 fps: 0.1 s, 6 frames at the pipeline rate
            if v.n_frames < MIN_OVERLAP_FRAMES:
                raise PipelineError(ErrorCode.VIDEO_TOO_SHORT,
                                    f"{v.path.name} lasts {v.info.duration_s:.2f} s: {v.n_frames} frames at "
                                    f"{MODEL_RATE_HZ:.0f} per second; at least {MIN_OVERLAP_FRAMES} are needed")
    with stages.stage("cameras"):  # before detection, so a wrong camera name fails fast
        rig = select_cameras(request.calibration, request.front_camera, request.side_camera,
                             (infos[0].width, infos[0].height), (infos[1].width, infos[1].height))
        warnings += rig.warnings
    detect_detail: dict[str, float] = {}
    with stages.stage("detect") as report:
        dets: list[ViewTrack] | list[ViewDetections]
        if request.detections_dir is not None:
            try:
                dets = [_resample(d, MODEL_RATE_HZ) for d in load_clip_detections(request.detections_dir)]
            except DetectionsError as exc:
                raise PipelineError(ErrorCode.DETECTIONS_INVALID, str(exc)) from exc
            found = [int(d.person_found.sum()) for d in dets]
        else:
            cams = (rig.front, rig.side) if rig.source == "calibration" else None
            tracked, choice = track_views(
                videos, predictor.config.input_size, progress=report, motion_survey=cams is None,
                choose=lambda surveys: choose_subject(surveys, cams, hint, request.offset_frames))
            warnings += choice.warnings
            subject = choice.summary
            dets = [t.track for t in tracked]
            for name, t in zip(VIEW_NAMES, tracked, strict=True):
                detect_detail.update({f"{name}_decode": t.decode_s, f"{name}_wall": t.wall_s})
            found = [int(d.person_found.sum()) for d in dets]
        if min(found) == 0:
            which = "front" if found[0] == 0 else "side"
            raise PipelineError(ErrorCode.NO_PERSON, f"no person was detected in the {which} video")
    core = estimate_from_detections(dets[0], dets[1], (rig.front, rig.side), rig.source == "calibration",
                                    predictor, request, stages, agree=settings.kinematics_agree_sides,
                                    self_calibrate=settings.kinematics_self_calibrate)
    cams = core.cameras or (rig.front, rig.side)
    camera_source = rig.source
    if core.rig is not None:  # the default rig's caveat no longer applies
        warnings = [w for w in warnings if w not in rig.warnings]
        camera_source = "estimated"
    warnings += core.warnings
    if core.identity is not None:
        subject["identity"] = core.identity
    front, side, f0, refined = core.front, core.side, core.front_start, core.refined
    with stages.stage("assemble") as report:
        result = assemble(refined.coords, refined.scales, MODEL_RATE_HZ, core.initial)
        files = write_results(result, out_dir, request.mass_kg, MODEL_RATE_HZ)
        files += write_fit_files(refined, out_dir, MODEL_RATE_HZ)
        if core.rig is not None:
            save_calibration_toml(cams, out_dir / results.ESTIMATED_CALIBRATION)
            files.append(results.ESTIMATED_CALIBRATION)
        report(0.5)
        files += write_plots(result.times_s, result.coords, out_dir / "plots")
        if request.overlay:
            report(0.6)
            try:
                files += write_overlay((Path(request.front_video), Path(request.side_video)), cams,
                                       (front, side), result.joint_centers, refined.flagged,
                                       (f0, f0 + core.sync.offset_frames), MODEL_RATE_HZ, out_dir)
            except (av.error.FFmpegError, OSError, ValueError) as exc:  # the numbers stand without the picture
                warnings.append(f"the overlay video could not be written ({exc.__class__.__name__})")
    missing = {name: np.flatnonzero(~d.person_found).tolist() for name, d in (("front", front), ("side", side))}
    summary = {
        "inputs": {
            "front": {"file": Path(request.front_video).name, **asdict(infos[0])},
            "side": {"file": Path(request.side_video).name, **asdict(infos[1])},
            "calibration": Path(request.calibration).name if request.calibration else None,
            "cameras": [rig.front.name, rig.side.name], "camera_source": camera_source,
            "detections": "precomputed" if request.detections_dir else "detected",
            "height_m": request.height_m, "mass_kg": request.mass_kg,
        },
        "fps": MODEL_RATE_HZ,
        "frames": int(result.times_s.size),
        "front_start_frame": f0,
        "sync": asdict(core.sync),
        "estimated_cameras": core.rig.summary() if core.rig is not None else None,
        "stage_seconds": stages.seconds,
        "detect_seconds_by_view": detect_detail,
        "subject": subject,
        "frames_without_person": missing,
        "frames_interpolated": result.filled_frames,
        "frames_held": result.held_frames,
        "angle_values_clamped_to_range": result.clipped_values,
        "network": {"config": predictor.config.name, "sha256": predictor.checkpoint.sha256[:16],
                    "windows": core.inferred.windows, "mirror_average": predictor.mirror_average,
                    "runs_on": predictor.runs_on},
        "model_height_m": round(result.model_height_m, 3),
        "body_scales": {name: [round(float(v), 4) for v in sc]
                        for name, sc in zip(load_definition().body_names, result.scales, strict=True)},
        "fit": refined.report,
        "warnings": warnings,
    }
    (out_dir / results.SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")
    files.append(results.SUMMARY)
    return PipelineResult(out_dir=out_dir, files=files, summary=summary)
