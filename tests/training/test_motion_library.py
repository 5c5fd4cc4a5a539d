"""The real-motion library: catalogue rules (reserved trial, held-out splits), conversion, sampling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model_store.biomech import load_definition, write_mot
from model_store.conventions import MODEL_RATE_HZ as FPS
from model_store.network.checkpoint import bundled_dir
from training.motion_library.catalogue import (
    SOURCES_FILE,
    CatalogueError,
    cmu_trials,
    is_reserved,
    load_catalogue,
)
from training.motion_library.library import build_library, load_library

from .git_mirror import bare_mirror

NAMES = load_definition().coordinate_names
RESERVED = {"repo": "opensim-org/opensim-models", "path": "Pipelines/Rajagopal/ExpData/motion_capture_run.trc"}


def test_reserved_trial_is_in_no_training_list():
    """The team's reserved running trial appears in no catalogue entry and in no bundled checkpoint's
    list of training motions."""
    assert is_reserved(RESERVED)
    assert is_reserved({"repo": "opensim-org/opensim-models", "path": "Pipelines/Rajagopal/OutputReference/run_ik.mot"})
    assert not is_reserved({"repo": "opensim-org/opensim-models", "path": "Pipelines/Hamner/x_running_ik.mot"})
    for t in load_catalogue(None):
        assert not is_reserved(t.source), t.id
    text = SOURCES_FILE.read_text().lower()
    assert "pipelines/rajagopal/expdata/motion_capture_run" not in json.dumps(json.loads(text)["trials"]).lower()
    manifests = [p for p in bundled_dir().glob("*.json") if not p.name.endswith(".golden.json")]
    assert bundled_dir() / "default.json" in manifests
    for path in manifests:
        for src in json.loads(path.read_text()).get("motion_sources", []):
            assert not is_reserved(src.get("source", {})), (path.name, src)


def test_catalogue_refuses_a_reserved_entry(tmp_path: Path):
    doc = {"trials": [{"id": "x", "kind": "run", "subject": "s", "source": RESERVED, "licence": "-",
                       "source_model": "-", "split": "train"}]}
    (tmp_path / "s.json").write_text(json.dumps(doc))
    with pytest.raises(CatalogueError, match="reserved"):
        load_catalogue(None, tmp_path / "s.json")


def test_every_kind_holds_out_whole_trials():
    trials = load_catalogue(None)
    kinds = {t.kind for t in trials}
    assert len(kinds) >= 6
    for kind in kinds:
        splits = {t.split for t in trials if t.kind == kind}
        assert splits == {"train", "test"}, (kind, splits)
    assert len({t.id for t in trials}) == len(trials)


def test_cmu_split_rule(tmp_path: Path):
    entries = [{"id": f"cmu_{i:02d}", "kind": "walk", "source": {"repo": "r", "path": f"{i}.bvh"}}
               for i in range(1, 11)]
    entries += [{"id": "cmu_90", "kind": "jump", "source": {}}, {"id": "cmu_91", "kind": "jump", "source": {}}]
    entries += [{"id": "cmu_95", "kind": "bend", "source": {}}]
    (tmp_path / "index.json").write_text(json.dumps(entries))
    split = {t.id: t.split for t in cmu_trials(tmp_path / "index.json")}
    assert sorted(k for k, v in split.items() if v == "test") == ["cmu_05", "cmu_10", "cmu_91"]
    assert split["cmu_95"] == "train"  # a kind with one trial cannot hold one out


def test_cmu_segments_are_entries_of_their_training_trial_only(tmp_path: Path):
    """A training trial's further good stretches become entries of the same trial and split; a
    held-out trial keeps its longest stretch only (its clips stay the same), and segments never move
    the held-out rule, which counts trials."""
    seg = [{"file": "cmu_01.s1.mot", "frames": 200, "duration_s": 3.3, "ik_rms_m": 0.03}]
    entries = [{"id": f"cmu_{i:02d}", "kind": "walk", "subject": "cmu_x", "source": {"repo": "r", "path": f"{i}.bvh"},
                "frames": 300, "segments": [dict(seg[0], file=f"cmu_{i:02d}.s1.mot")]} for i in range(1, 6)]
    (tmp_path / "index.json").write_text(json.dumps(entries))
    trials = {t.id: t for t in cmu_trials(tmp_path / "index.json")}
    assert trials["cmu_05"].split == "test" and "cmu_05.s1" not in trials
    assert sorted(trials) == sorted([f"cmu_{i:02d}" for i in range(1, 6)] + [f"cmu_{i:02d}.s1" for i in range(1, 5)])
    s1 = trials["cmu_01.s1"]
    assert s1.split == "train" and s1.subject == "cmu_x" and s1.extra["segment_of"] == "cmu_01"
    assert s1.extra["converted"] == "motion_library/cmu/cmu_01.s1.mot" and s1.extra["frames"] == 200
    assert s1.extra["segments"] == [] and trials["cmu_01"].extra["converted"] == "motion_library/cmu/cmu_01.mot"


def test_build_converts_degrees_resamples_negates_and_clips(tmp_path: Path):
    """A 100 Hz .mot in degrees (gait2392-style negative knee flexion) becomes 60 Hz radians in model
    order; the named coordinates are negated; angles beyond the model's ranges are clipped and counted."""
    t = np.arange(0, 1.0 + 1e-9, 0.01)
    q = np.zeros((len(t), len(NAMES)))
    knee = NAMES.index("knee_angle_r")
    hip = NAMES.index("hip_flexion_r")
    q[:, NAMES.index("pelvis_ty")] = 0.95
    q[:, knee] = -np.radians(60) * np.sin(np.pi * t)  # source convention: flexion negative
    q[:, hip] = np.radians(150.0)  # beyond the model's 120° limit
    src = tmp_path / "trial.mot"
    write_mot(src, t, q, NAMES)
    mirrors = bare_mirror(tmp_path, {"data/trial.mot": src.read_text()})
    doc = {"trials": [{"id": "t1", "kind": "walk", "subject": "s", "licence": "test", "source_model": "gait2392",
                       "split": "train", "negate": ["knee_angle_r"],
                       "source": {"repo": "acme/mocap", "commit": "HEAD", "path": "data/trial.mot"}}]}
    (tmp_path / "sources.json").write_text(json.dumps(doc))
    cache = tmp_path / "cache"
    manifest = json.loads(build_library(mirrors, cache, progress=False, sources=tmp_path / "sources.json",
                                        shared_walk=False).read_text())
    lib = load_library(cache)
    (out,) = lib.coords
    assert len(out) == 61 and manifest["fps"] == FPS
    assert np.degrees(out[:, knee]).max() == pytest.approx(60.0, abs=0.2)
    assert np.degrees(out[:, hip]).max() == pytest.approx(np.degrees(load_definition().coordinates[hip].range[1]))
    assert manifest["trials"][0]["frames_clipped_to_ranges"] == 61
    assert len(manifest["trials"][0]["provenance"]["sha256"]) == 64


def test_build_keeps_only_max_seconds_of_a_long_trial(tmp_path: Path):
    t = np.arange(0, 3.0 + 1e-9, 0.01)
    q = np.zeros((len(t), len(NAMES)))
    q[:, NAMES.index("pelvis_ty")] = 0.95
    q[:, NAMES.index("knee_angle_r")] = np.radians(30.0) * t  # rises with time: the kept part is the start
    src = tmp_path / "trial.mot"
    write_mot(src, t, q, NAMES)
    mirrors = bare_mirror(tmp_path, {"data/trial.mot": src.read_text()})
    doc = {"trials": [{"id": "t1", "kind": "run", "subject": "s", "licence": "test", "source_model": "-",
                       "split": "train", "max_seconds": 1.5,
                       "source": {"repo": "acme/mocap", "commit": "HEAD", "path": "data/trial.mot"}}]}
    (tmp_path / "sources.json").write_text(json.dumps(doc))
    manifest = json.loads(build_library(mirrors, tmp_path / "cache", progress=False, sources=tmp_path / "sources.json",
                                        shared_walk=False).read_text())
    (out,) = load_library(tmp_path / "cache").coords
    assert len(out) == 90 and manifest["trials"][0]["seconds"] == 1.5
    assert np.degrees(out[-1, NAMES.index("knee_angle_r")]) == pytest.approx(30.0 * 89 / FPS, abs=0.1)


def test_build_names_a_missing_mirror(tmp_path: Path):
    from training.motion_library.library import LibraryError

    doc = {"trials": [{"id": "t1", "kind": "walk", "subject": "s", "licence": "-", "source_model": "-",
                       "split": "train", "source": {"repo": "acme/none", "path": "x.mot"}}]}
    (tmp_path / "s.json").write_text(json.dumps(doc))
    with pytest.raises(LibraryError, match="acme/none"):
        build_library(tmp_path, tmp_path / "c", progress=False, sources=tmp_path / "s.json", shared_walk=False)
