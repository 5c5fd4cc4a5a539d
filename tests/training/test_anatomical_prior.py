"""The anatomical prior on how trunk lean splits into pelvis tilt and lumbar extension: trained on
marker-measured training trials only, chosen by leaving subjects out, shipped with its manifest."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model_store.biomech import load_definition
from model_store.fit.anatomical_prior import DEFAULT_PRIOR_FILE, load_anatomical_prior
from training.anatomical_prior import CANDIDATES, train_prior
from training.motion_library.catalogue import SHARED_WALK_ID, SOURCES_FILE
from training.motion_library.library import MotionLibrary

NAMES = load_definition().coordinate_names


def _trial(lean: np.ndarray, tilt: np.ndarray) -> np.ndarray:
    """Coordinates [T, 39] facing +X with this pelvis tilt and trunk lean (the lumbar spine takes the rest)."""
    q = np.zeros((len(lean), len(NAMES)))
    q[:, NAMES.index("pelvis_tilt")] = tilt
    q[:, NAMES.index("lumbar_extension")] = lean - tilt
    return q


def _library(rng: np.random.Generator) -> MotionLibrary:
    """Four marker-measured subjects whose tilt is 0.05 + 0.5 × lean plus an offset of their own, and three
    trials that must not count: a held-out trial, a CMU retarget and one without pelvis markers (all wild)."""
    trials, coords = [], []
    for i, offset in enumerate((0.04, -0.03, 0.02, -0.05)):
        for k in range(2):
            lean = rng.uniform(-0.8, 0.1) + 0.1 * np.sin(np.linspace(0, 6, 120))
            trials.append({"id": f"s{i}_{k}", "subject": f"s{i}", "kind": "walk", "split": "train"})
            coords.append(_trial(lean, 0.05 + 0.5 * lean + offset))
    wild = _trial(np.full(60, -0.3), np.full(60, 1.0))
    trials += [{"id": "held", "subject": "s0", "kind": "walk", "split": "test"},
               {"id": "cmu", "subject": "c", "kind": "walk", "split": "train", "converted": "motion_library/cmu/c.mot"},
               {"id": "video", "subject": "v", "kind": "squat", "split": "train", "pelvis_markers": False}]
    coords += [wild, wild, wild]
    return MotionLibrary(trials, coords)


def test_the_prior_learns_the_split_from_marker_measured_training_trials_only():
    doc = train_prior(_library(np.random.default_rng(0)))
    used = {t["id"] for t in doc["manifest"]["data"]["trials"]}
    assert used == {f"s{i}_{k}" for i in range(4) for k in range(2)}  # not the held-out, CMU or video trials
    p = doc["pelvis_tilt"]
    scores = doc["manifest"]["leave_one_subject_out"]
    assert set(scores) == set(CANDIDATES)
    assert p["candidate"] == min(CANDIDATES, key=lambda n: scores[n]["rms_deg"])
    assert p["candidate"].startswith("trunk_lean")
    assert p["trunk_lean_slope"] == pytest.approx(0.5, abs=0.05)
    # sigma is the error on a subject left out: about the subjects' own offsets (2–5 degrees), not zero
    assert 1.5 < np.degrees(p["sigma_rad"]) < 5.0
    assert p["sigma_rad"] == pytest.approx(np.radians(scores[p["candidate"]]["rms_deg"]), rel=1e-4)
    # lumbar towards neutral says the pelvis takes all the lean: far off here
    assert scores["lumbar_neutral"]["rms_deg"] > 3 * scores[p["candidate"]]["rms_deg"]


def test_too_few_subjects_are_refused():
    lib = _library(np.random.default_rng(1))
    two = MotionLibrary([t for t in lib.trials if t["subject"] in ("s0", "s1")],
                        [q for t, q in zip(lib.trials, lib.coords, strict=True) if t["subject"] in ("s0", "s1")])
    with pytest.raises(ValueError, match="three subjects"):
        train_prior(two)


def test_the_bundled_prior_was_trained_on_marker_measured_training_trials_only():
    """The shipped prior's manifest names its trials: each is a training-split trial of sources.json (or the
    shared walk), none is held out, none is a CMU retarget, none lacks pelvis markers; its sigma is the
    leave-one-subject-out RMS of the candidate it chose, which is the best of them."""
    doc = json.loads(DEFAULT_PRIOR_FILE.read_text())
    sources = {t["id"]: t for t in json.loads(SOURCES_FILE.read_text())["trials"]}
    trials = doc["manifest"]["data"]["trials"]
    assert len({t["subject"] for t in trials}) >= 5 and doc["manifest"]["data"]["split"] == "train"
    for t in trials:
        if t["id"] == SHARED_WALK_ID:
            continue
        assert t["id"] in sources, t["id"]  # CMU trials are not in sources.json
        assert sources[t["id"]]["split"] == "train" and sources[t["id"]].get("pelvis_markers", True), t["id"]
    scores = doc["manifest"]["leave_one_subject_out"]
    chosen = doc["pelvis_tilt"]["candidate"]
    assert chosen == min(scores, key=lambda n: scores[n]["rms_deg"])
    prior = load_anatomical_prior()
    assert prior.sigma_rad == pytest.approx(np.radians(scores[chosen]["rms_deg"]), rel=1e-4)
