"""Clip rendering with given subject scales: an OpenSim ScaleSet XML drives the body and the truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model_store.biomech import load_definition, write_mot
from training.synth.__main__ import main as synth_main
from training.synth.clip import read_scales


@pytest.fixture()
def scale_set_xml(opensim_module, tmp_path):
    """A ScaleSet written by OpenSim itself, distinct factors per body and axis."""
    rng = np.random.default_rng(8)
    truth = rng.uniform(0.9, 1.15, (22, 3))
    scale_set = opensim_module.ScaleSet()
    for name, s in zip(load_definition().body_names, truth, strict=True):
        sc = opensim_module.Scale()
        sc.setSegmentName(name)
        sc.setScaleFactors(opensim_module.Vec3(*s))
        sc.setApply(True)
        scale_set.cloneAndAppend(sc)
    path = tmp_path / "scales.xml"
    scale_set.printToXML(str(path))
    return path, truth


def test_clip_uses_opensim_scale_set(scale_set_xml, tmp_path):
    path, truth = scale_set_xml
    given = read_scales(path)
    np.testing.assert_allclose(given, truth, rtol=1e-5)  # OpenSim writes ~7 significant digits
    md = load_definition()
    q = np.tile([c.default for c in md.coordinates], (7, 1))
    write_mot(tmp_path / "still.mot", np.arange(7) / 30.0, q)
    rc = synth_main(["clip", "--motion", str(tmp_path / "still.mot"), "--out", str(tmp_path / "clip"),
                     "--scales", str(path), "--fps", "30", "--seed", "1"])
    assert rc == 0
    doc = json.loads((tmp_path / "clip" / "truth_scales.json").read_text())
    np.testing.assert_allclose([doc["scales"][n] for n in md.body_names], given, rtol=1e-12)
    # the same scales through our JSON layout
    np.testing.assert_allclose(read_scales(tmp_path / "clip" / "truth_scales.json"), given, rtol=1e-12)
