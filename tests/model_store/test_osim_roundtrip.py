"""Scaled .osim + .mot written by us, loaded by OpenSim, reproduce our FK (≤ 0.5 mm)."""

from __future__ import annotations

import numpy as np
import torch

from model_store.biomech import load_fullbody_model, write_mot, write_scaled_osim
from model_store.biomech.osim_writer import build_generic_model
from tests.model_store.opensim_helpers import body_origins

TOLERANCE_M = 0.5e-3


def _smooth_motion(fk, rng, n_frames):
    """Sines inside each coordinate's range; locked coordinates stay at their defaults."""
    ranges = fk.coordinate_ranges.numpy()
    t = np.arange(n_frames) / 60.0
    lo, hi = ranges[:, 0].copy(), ranges[:, 1].copy()
    lo[3:6], hi[3:6] = (-0.5, 0.8, -0.5), (0.5, 1.1, 0.5)
    mid, amp = (lo + hi) / 2, (hi - lo) / 2 * 0.9
    phase, freq = rng.uniform(0, 2 * np.pi, 39), rng.uniform(0.3, 1.5, 39)
    coords = mid + amp * np.sin(2 * np.pi * freq * t[:, None] + phase)
    locked = [c.locked for c in fk.definition.coordinates]
    coords[:, locked] = fk.default_coordinates.numpy()[locked]
    return t, fk.apply_couplers(torch.tensor(coords)).numpy()


def test_osim_and_mot_round_trip(opensim_module, tmp_path):
    osim = opensim_module
    fk = load_fullbody_model()
    rng = np.random.default_rng(11)
    scales = rng.uniform(0.85, 1.15, (22, 3))
    times, coords = _smooth_motion(fk, rng, 40)
    osim_path = write_scaled_osim(tmp_path / "model_scaled.osim", scales, mass_kg=68.0)
    mot_path = write_mot(tmp_path / "kinematics.mot", times, coords)

    model = osim.Model(str(osim_path))
    state = model.initSystem()
    assert abs(model.getTotalMass(state) - 68.0) < 1e-9
    assert model.getNumMarkers() == 66 and model.getNumConstraints() == 2
    hip = model.getCoordinateSet().get("hip_flexion_r")
    assert (hip.getRangeMin(), hip.getRangeMax()) == tuple(fk.definition.coordinates[6].range)
    table = osim.TimeSeriesTable(str(mot_path))
    assert table.getTableMetaDataAsString("inDegrees") == "yes"
    labels = list(table.getColumnLabels())
    data = table.getMatrix().to_numpy()
    coord_set = model.getCoordinateSet()
    translational = {n for n in labels if coord_set.get(n).getMotionType() == 2}
    q_all = np.column_stack([data[:, labels.index(n)] if n in translational else np.radians(data[:, labels.index(n)])
                             for n in fk.coordinate_names])
    ours = fk(torch.tensor(coords), torch.tensor(scales).expand(len(times), -1, -1)).body_origins.numpy()
    worst = 0.0
    for i, q in enumerate(q_all):
        worst = max(worst, float(np.abs(body_origins(model, state, q) - ours[i]).max()))
    print(f"round-trip body-origin error: {worst * 1e3:.2e} mm")
    assert worst <= TOLERANCE_M


def test_volume_mass_scaling_without_subject_mass(opensim_module, tmp_path):
    fk = load_fullbody_model()
    scales = np.full((22, 3), 1.1)
    model = opensim_module.Model(str(write_scaled_osim(tmp_path / "m.osim", scales)))
    state = model.initSystem()
    generic = sum(b.mass for b in fk.definition.bodies)
    assert abs(model.getTotalMass(state) - generic * 1.1**3) < 1e-6


def test_generic_model_has_geometry_and_defaults(opensim_module, tmp_path):
    model = build_generic_model()
    path = tmp_path / "generic.osim"
    model.printToXML(str(path))
    text = path.read_text()
    assert text.count("<Ellipsoid") == 22
    loaded = opensim_module.Model(str(path))
    state = loaded.initSystem()
    ty = loaded.getCoordinateSet().get("pelvis_ty")
    assert abs(ty.getValue(state) - 0.94) < 1e-9
    assert loaded.getCoordinateSet().get("subtalar_angle_r").getDefaultLocked()


def test_rejects_bad_scales(tmp_path):
    import pytest

    with pytest.raises(ValueError, match="scales must be"):
        write_scaled_osim(tmp_path / "x.osim", np.ones((21, 3)))
    with pytest.raises(ValueError, match="positive"):
        write_scaled_osim(tmp_path / "x.osim", -np.ones((22, 3)))
