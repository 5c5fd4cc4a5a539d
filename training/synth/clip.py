"""Render a two-view clip from any Rajagopal motion: videos, calibration, truth and detections.

``DIR/front.mp4`` and ``DIR/side.mp4`` (the capsule figure, light on a plain dark background),
``DIR/calibration.toml`` (Pose2Sim layout, cameras ``front`` and ``side``, world Z up),
``DIR/truth.mot`` (degrees, at the video rate), ``DIR/truth_scales.json`` and
``DIR/detections/{front,side}.npz`` (exact masks and keypoints in the pipeline's format).
Videos are rendered at ``max_side`` px on their long side (the rig's image size scaled down).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import av
import numpy as np

from model_store.biomech import Motion, load_definition, resample_motion, write_mot
from model_store.conventions import MODEL_RATE_HZ, VIEW_NAMES
from model_store.geometry.cameras import Camera, save_calibration_toml
from model_store.keypoints.detections import ViewDetections, save_view_detections
from training.synth.render import draw_mask, keypoint_visibility, project_capsules
from training.synth.rig import to_calibration_camera
from training.synth.sequence import SyntheticSequence, build_sequence
from training.synth.subjects import Subject, sample_subject

BACKGROUND = 40
FOREGROUND = 215


def _scaled_camera(cam: Camera, max_side: int) -> Camera:
    w, h = cam.image_size
    f = min(1.0, max_side / max(w, h))
    new_size = (int(round(w * f / 2) * 2), int(round(h * f / 2) * 2))
    k = cam.K.copy()
    k[:2] *= np.array([new_size[0] / w, new_size[1] / h])[:, None]
    return replace(cam, K=k, image_size=new_size)


def _write_video(path: Path, masks: np.ndarray, fps: float) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=int(round(fps)))
        stream.height, stream.width = masks.shape[1:]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast"}
        for m in masks:
            grey = (BACKGROUND + (FOREGROUND - BACKGROUND) * (m.astype(np.float32) / 255.0)).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(np.repeat(grey[..., None], 3, axis=2), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


@dataclass
class RenderedClip:
    """A rendered two-view clip in memory: ``times_s`` [T], the synthetic sequence (truth: coordinates,
    scales, landmarks), the calibration-world cameras (``front``, ``side``; no distortion) and the
    exact detections of each view (full-frame masks and keypoints, the pipeline's format)."""

    times_s: np.ndarray
    sequence: SyntheticSequence
    cameras: tuple[Camera, Camera]
    detections: tuple[ViewDetections, ViewDetections]
    subject: Subject


def render_clip(
    motion: Motion, fps: float = MODEL_RATE_HZ, seed: int = 0, subject: Subject | None = None, max_side: int = 960,
) -> RenderedClip:
    """Render ``motion`` from a sampled two-camera rig (seeded) as exact detections, without video."""
    rng = np.random.default_rng(seed)
    times, coords = resample_motion(motion, fps)
    subject = subject or sample_subject(rng)
    seq = build_sequence(rng, len(times), coords=coords, subject=subject)
    dets, calib = [], []
    for name, cam in zip(VIEW_NAMES, seq.cameras, strict=True):
        cam = _scaled_camera(cam, max_side)
        px, r_px, _ = project_capsules(cam, seq.capsules, seq.radii)
        masks = np.stack([draw_mask(px[i], r_px[i], np.zeros(2), 1.0, cam.image_size) for i in range(len(times))])
        kp_px, _ = cam.project_pinhole(seq.landmarks)
        vis = keypoint_visibility(cam, seq.capsules, seq.radii, seq.landmarks)
        kps = np.concatenate([kp_px, vis[..., None]], -1).astype(np.float32)
        dets.append(ViewDetections(masks, kps, np.ones(len(times), bool), fps, cam.image_size))
        calib.append(to_calibration_camera(name, cam))
    return RenderedClip(times, seq, (calib[0], calib[1]), (dets[0], dets[1]), subject)


def write_clip(
    motion: Motion, out: Path, fps: float = MODEL_RATE_HZ, seed: int = 0, subject: Subject | None = None,
    max_side: int = 960,
) -> dict[str, Path]:
    """Render ``motion`` as a two-view clip into ``out``; returns the written paths by role."""
    clip = render_clip(motion, fps, seed, subject, max_side)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, det in zip(VIEW_NAMES, clip.detections, strict=True):
        paths[f"detections_{name}"] = save_view_detections(out / "detections" / f"{name}.npz", det)
        paths[name] = out / f"{name}.mp4"
        _write_video(paths[name], det.masks, fps)
    paths["calibration"] = save_calibration_toml(clip.cameras, out / "calibration.toml")
    paths["truth"] = write_mot(out / "truth.mot", clip.times_s, clip.sequence.coords, name="truth")
    names = load_definition().body_names
    scales_doc = {
        "units": "scale factors (1 = generic Rajagopal 2016), per body and axis (x, y, z)",
        "height_m": clip.subject.height_m,
        "scales": {n: [float(v) for v in s] for n, s in zip(names, clip.subject.scales, strict=True)},
    }
    paths["truth_scales"] = out / "truth_scales.json"
    paths["truth_scales"].write_text(json.dumps(scales_doc, indent=2) + "\n")
    return paths


def read_scales(path: Path) -> np.ndarray:
    """Scales [22, 3] from our JSON (``truth_scales.json`` layout) or an OpenSim ScaleSet XML."""
    names = load_definition().body_names
    text = Path(path).read_text()
    if path.suffix.lower() == ".json":
        found = json.loads(text).get("scales", {})
    else:
        import xml.etree.ElementTree as ET

        root = ET.fromstring(text)
        found = {
            s.findtext("segment"): [float(v) for v in (s.findtext("scales") or "").split()] for s in root.iter("Scale")
        }
    missing = [n for n in names if n not in found]
    if missing:
        raise ValueError(f"{path}: no scale factors for {', '.join(missing)}")
    return np.array([found[n] for n in names], dtype=np.float64)
