"""Our .mot/.trc files are read by real OpenSim with the values we wrote."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_store.biomech import MotionFileError, load_fullbody_model, read_mot, write_mot, write_trc
from tests.model_store.opensim_helpers import random_poses


@pytest.fixture()
def motion():
    fk = load_fullbody_model()
    rng = np.random.default_rng(3)
    coords = random_poses(rng, fk.coordinate_ranges.numpy(), 12)
    coords = fk.apply_couplers(torch.tensor(coords)).numpy()
    return np.arange(12) / 60.0, coords, fk


def test_mot_in_degrees_read_by_opensim(opensim_module, tmp_path, motion):
    times, coords, fk = motion
    path = write_mot(tmp_path / "k.mot", times, coords)
    table = opensim_module.TimeSeriesTable(str(path))
    assert table.getNumRows() == 12 and table.getNumColumns() == 39
    assert list(table.getColumnLabels()) == list(fk.coordinate_names)
    assert table.getTableMetaDataAsString("inDegrees") == "yes"
    mat = table.getMatrix().to_numpy()
    hip = fk.coordinate_names.index("hip_flexion_r")
    np.testing.assert_allclose(mat[:, hip], np.degrees(coords[:, hip]), atol=1e-6)
    ty = fk.coordinate_names.index("pelvis_ty")
    np.testing.assert_allclose(mat[:, ty], coords[:, ty], atol=1e-8)  # translations stay in metres
    sto = opensim_module.Storage(str(path))
    assert sto.getSize() == 12 and sto.isInDegrees()
    np.testing.assert_allclose(np.array(table.getIndependentColumn()), times, atol=1e-8)


@pytest.mark.parametrize("in_degrees", [True, False])
def test_read_mot_round_trip(tmp_path, motion, in_degrees):
    times, coords, _ = motion
    path = write_mot(tmp_path / "k.mot", times, coords, in_degrees=in_degrees)
    m = read_mot(path)
    np.testing.assert_allclose(m.coords, coords, atol=1e-7)
    np.testing.assert_allclose(m.times_s, times, atol=1e-8)
    assert abs(m.rate_hz - 60.0) < 1e-3


def test_read_mot_fills_missing_columns_and_reports_bad_files(tmp_path):
    fk = load_fullbody_model()
    p = tmp_path / "partial.mot"
    p.write_text("x\nversion=1\ninDegrees=yes\nendheader\ntime\tknee_angle_r\tnot_a_coord\n0\t30\t5\n0.01\t40\t5\n")
    m = read_mot(p)
    k = fk.coordinate_names.index("knee_angle_r")
    np.testing.assert_allclose(m.coords[:, k], np.radians([30, 40]))
    ty = fk.coordinate_names.index("pelvis_ty")
    np.testing.assert_allclose(m.coords[:, ty], fk.default_coordinates[ty].item())
    bad = tmp_path / "bad.mot"
    bad.write_text("no header here\n1 2 3\n")
    with pytest.raises(MotionFileError, match="endheader"):
        read_mot(bad)
    with pytest.raises(MotionFileError, match="cannot read"):
        read_mot(tmp_path / "missing.mot")


def test_write_mot_rejects_bad_arrays(tmp_path):
    with pytest.raises(ValueError, match="coords must be"):
        write_mot(tmp_path / "x.mot", np.arange(3), np.zeros((3, 38)))
    bad = np.zeros((2, 39))
    bad[1, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        write_mot(tmp_path / "x.mot", np.arange(2), bad)


def test_trc_in_mm_read_by_opensim(opensim_module, tmp_path, motion):
    times, coords, fk = motion
    out = fk(torch.tensor(coords))
    centers = out.joint_centers.numpy()
    path = write_trc(tmp_path / "jc.trc", times, centers, fk.body_names, rate_hz=60.0)
    table = opensim_module.TimeSeriesTableVec3(str(path))
    assert table.getNumRows() == 12 and table.getNumColumns() == 22
    assert list(table.getColumnLabels()) == list(fk.body_names)
    assert table.getTableMetaDataAsString("Units") == "mm"
    knee = fk.body_names.index("tibia_r")
    col = table.getDependentColumn("tibia_r")
    got = np.array([[col[i].get(k) for k in range(3)] for i in range(12)])
    np.testing.assert_allclose(got, centers[:, knee] * 1000.0, atol=1e-3)


def test_one_trc_writer_in_either_unit(tmp_path):
    """The same trajectories written in mm (results) and in m (OpenSim's tools on virtual markers) read
    back to the same metres; the header names the unit."""

    rng = np.random.default_rng(0)
    pts = rng.uniform(-1, 1, (5, 2, 3))
    t = np.arange(5) / 60.0
    back = {}
    for units, factor in (("mm", 1000.0), ("m", 1.0)):
        path = write_trc(tmp_path / f"p_{units}.trc", t, pts, ["a", "b"], 60.0, units=units)
        lines = path.read_text().splitlines()
        assert lines[2].split("\t")[4] == units
        back[units] = np.loadtxt(lines[6:], ndmin=2)[:, 2:].reshape(5, 2, 3) / factor
    np.testing.assert_allclose(back["mm"], pts, atol=1e-7)
    np.testing.assert_allclose(back["m"], pts, atol=1e-6)
    with pytest.raises(ValueError, match="units"):
        write_trc(tmp_path / "x.trc", t, pts, ["a", "b"], 60.0, units="inch")


def test_one_storage_reader_gives_columns_as_stored(tmp_path):
    from model_store.biomech.motion_files import read_sto_columns

    path = tmp_path / "errors.sto"
    path.write_text("Errors\nnRows=2\nendheader\ntime\ttotal_squared_error\tmarker_error_RMS\n"
                    "0.0\t0.5\t0.02\n0.01\t0.4\t0.03\n")
    cols = read_sto_columns(path)
    assert list(cols) == ["time", "total_squared_error", "marker_error_RMS"]
    np.testing.assert_allclose(cols["marker_error_RMS"], [0.02, 0.03])
    (tmp_path / "bad.sto").write_text("time\t1\n")
    with pytest.raises(MotionFileError, match="endheader"):
        read_sto_columns(tmp_path / "bad.sto")
