"""The committed model definition matches the OpenSim model it was exported from."""

from __future__ import annotations

import json
import subprocess
import sys

from model_store.biomech import load_definition, load_fullbody_model
from model_store.biomech.definition import definition_path
from tests.conftest import REPO_ROOT


def test_names_and_order_match_opensim(opensim_module, rajagopal_osim):
    model = opensim_module.Model(str(rajagopal_osim))
    model.initSystem()
    m = load_fullbody_model()
    assert list(m.body_names) == [b.getName() for b in model.getBodySet()]
    assert list(m.coordinate_names) == [c.getName() for c in model.getCoordinateSet()]
    assert len(m.body_names) == 22 and len(m.coordinate_names) == 39
    md = load_definition()
    assert len(md.markers) == model.getMarkerSet().getSize() == 66
    masses = {b.getName(): b.getMass() for b in model.getBodySet()}
    assert all(abs(b.mass - masses[b.name]) < 1e-12 for b in md.bodies)
    for c in md.coordinates:
        oc = model.getCoordinateSet().get(c.name)
        assert (c.range[0], c.range[1]) == (oc.getRangeMin(), oc.getRangeMax())
    assert {c.dependent for c in md.couplers} == {"knee_angle_r_beta", "knee_angle_l_beta"}


def test_export_script_reproduces_committed_definition(rajagopal_osim, tmp_path):
    out = tmp_path / "def.json"
    subprocess.run(
        [sys.executable, "scripts/export_model_definition.py", "--osim", str(rajagopal_osim), "--out", str(out)],
        cwd=REPO_ROOT, check=True, capture_output=True,
    )
    assert json.loads(out.read_text()) == json.loads(definition_path().read_text())


def test_export_script_reports_missing_model(tmp_path):
    res = subprocess.run(
        [sys.executable, "scripts/export_model_definition.py", "--osim", str(tmp_path / "nope.osim")],
        cwd=REPO_ROOT, capture_output=True, text=True,
    )
    assert res.returncode == 2 and "not found" in res.stderr


def test_named_sizes_match_the_model_and_landmarks():
    from model_store import sizes
    from model_store.keypoints.landmarks import load_landmarks
    from model_store.network.outputs import ROTATIONAL_COORDINATES

    md = load_definition()
    assert len(md.coordinate_names) == sizes.N_COORDINATES
    assert len(ROTATIONAL_COORDINATES) == sizes.N_ROTATIONAL
    assert len(md.body_names) == sizes.N_BODIES
    assert len(load_landmarks().names) == sizes.N_LANDMARKS
