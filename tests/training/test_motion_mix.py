"""Training motions from the mixture, and on-the-fly data through the device buffer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_store.biomech import load_definition
from training.data.stream import DeviceBuffer
from training.motion_library.library import MotionLibrary
from training.synth.motion_mix import MixWeights, MotionMix, ground_clip
from training.synth.procedural import ground_feet, motion_of_kind

NAMES = load_definition().coordinate_names
TY = NAMES.index("pelvis_ty")


def _library(split: str = "train") -> MotionLibrary:
    rng = np.random.default_rng(0)
    q = motion_of_kind("squat", rng, 120, 60.0)
    return MotionLibrary([{"id": "sq", "kind": "squat", "split": split}], [q.astype(np.float32)])


def test_ground_clip_keeps_a_flight_phase():
    """One constant shift: the lowest foot point over the clip is on the floor, and a hop stays a hop."""
    q = motion_of_kind("squat", np.random.default_rng(1), 60, 60.0)
    q = ground_feet(q, None)
    q[20:40, TY] += 0.15  # lift the body for a third of the clip
    g = ground_clip(q, np.ones((22, 3)))
    lift = g[:, TY] - ground_feet(g, np.ones((22, 3)))[:, TY]  # per-frame height of the lowest point
    assert lift.min() == pytest.approx(0.0, abs=2e-3)
    assert lift[25:35].min() > 0.12


def test_mix_draws_every_source_and_labels_it():
    mix = MotionMix(_library(), MixWeights(real=1, procedural=1, random=1))
    seen = set()
    for i in range(30):
        q, source = mix.sample(np.random.default_rng([3, i]), 32, 60.0, np.ones((22, 3)))
        assert q.shape == (32, 39) and np.isfinite(q).all()
        seen.add(source.split(":")[0])
    assert seen == {"real", "procedural", "random"}


def test_mix_refuses_a_library_mixing_splits():
    lib = _library()
    both = MotionLibrary([*lib.trials, {"id": "t", "kind": "squat", "split": "test"}], lib.coords * 2)
    with pytest.raises(ValueError, match="select one split"):
        MotionMix(both)


def test_device_buffer_keeps_the_newest_sequences_and_samples_windows():
    buf = DeviceBuffer(capacity=3, frames=8, mask_size=4, device=torch.device("cpu"))

    def item(v: float) -> dict[str, np.ndarray]:
        return {"masks": np.full((8, 2, 4, 4), 255, np.uint8), "keypoints": np.zeros((8, 2, 33, 3), np.float32),
                "crops": np.zeros((8, 2, 3), np.float32), "k": np.eye(3, dtype=np.float32)[None].repeat(2, 0),
                "r": np.eye(3, dtype=np.float32)[None].repeat(2, 0), "t": np.zeros((2, 3), np.float32),
                "coords": np.full((8, 39), v, np.float32), "scales": np.ones((22, 3), np.float32),
                "valid": np.ones(8, bool)}

    buf.add([item(1), item(2)])
    buf.add([item(3), item(4)])  # overwrites the oldest (1)
    assert buf.size == 3
    assert sorted(buf.data["coords"][:, 0, 0].tolist()) == [2.0, 3.0, 4.0]
    gen = torch.Generator().manual_seed(0)
    wb = buf.sample(gen, 5, 4)
    assert wb.masks.shape == (5, 4, 2, 4, 4) and float(wb.masks.max()) == 1.0
    assert wb.coords.shape == (5, 4, 39) and set(wb.coords[:, 0, 0].tolist()) <= {2.0, 3.0, 4.0}


def test_curve_path_turns_the_heading_and_keeps_step_lengths():
    from training.synth.motions import curve_path

    q = np.zeros((61, 39))
    tx, tz, rot = NAMES.index("pelvis_tx"), NAMES.index("pelvis_tz"), NAMES.index("pelvis_rotation")
    q[:, tx] = np.linspace(0.0, 1.2, 61)  # straight along +X
    c = curve_path(q, np.pi / 2)
    steps = np.hypot(*np.diff(c[:, [tx, tz]], axis=0).T)
    assert steps.sum() == pytest.approx(1.2, rel=1e-9)
    assert np.degrees(c[-1, rot]) == pytest.approx(90.0, abs=1e-6)
    assert c[-1, tz] < -0.5  # a left turn about +Y heads towards -Z


def test_the_recipes_default_mixture_is_the_mixtures_default():
    """``StreamRecipe.mix`` (written into run manifests) and ``MixWeights`` (what test sets always use)
    state the same default; a change to one must be made to the other."""
    from dataclasses import astuple

    from training.configs import StreamRecipe

    assert StreamRecipe().mix == astuple(MixWeights())
