"""Which real-motion trials exist, where they come from, their licence and their split.

Two lists make the catalogue:

- ``sources.json`` (committed, beside this module): trials that are already OpenSim IK results on
  models of the Rajagopal / gait2392 family (AddBiomechanics' expert IK, opensim-models' Hamner
  running and gait2392 walking). These models define the coordinates we use (names, axes, zero
  poses) as Rajagopal 2016 does, so they are read by name.
- ``CACHE/motion_library/cmu/index.json`` (written by :mod:`training.motion_library.cmu_retarget`):
  CMU motion-capture trials retargeted to Rajagopal 2016 with OpenSim Scale + IK. A training trial
  whose IK lost the subject for a few frames also lists its other good stretches (``segments``):
  each becomes an entry ``<id>.s<k>`` of the same trial (subject, split), ``segment_of`` naming it.

Plus the shared walking trial (OpenSim Scale + IK on the repository's ``data/mocap/walk``, see
:mod:`training.synth.real_motion`), always in the training split.

Every trial has a ``split``: ``train`` or ``test``. Test trials are whole trials held out for the
held-out evaluation by motion kind; they are never used in training. The team's reserved trial
(opensim-models' ``Pipelines/Rajagopal`` running trial) is in no list: :func:`is_reserved` names it
and :func:`load_catalogue` refuses any source that matches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SOURCES_FILE = Path(__file__).with_name("sources.json")
SPLITS = ("train", "test")
SHARED_WALK_ID = "shared_rajagopal_walk"
#: CMU trials: every ``CMU_TEST_EVERY``-th trial of a kind (sorted by id, 1-based) is held out, or the
#: last of 2–4; a ``split`` in the trial table pins a trial instead.
CMU_TEST_EVERY = 5


class CatalogueError(ValueError):
    """A trial list that cannot be used (names the file and the problem)."""


@dataclass(frozen=True)
class Trial:
    """One real-motion trial: ``id``, motion ``kind``, recorded ``subject``, ``source`` (repo, commit,
    path, or ``shared`` for the repository's ``data/``), ``licence`` text, ``source_model`` and ``split``."""

    id: str
    kind: str
    subject: str
    source: dict[str, str]
    licence: str
    source_model: str
    split: str
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = {"id": self.id, "kind": self.kind, "subject": self.subject, "source": self.source,
             "licence": self.licence, "source_model": self.source_model, "split": self.split}
        if self.note:
            d["note"] = self.note
        return d | self.extra


def is_reserved(source: dict[str, str]) -> bool:
    """True for the team's reserved evaluation trial (opensim-models' ``Pipelines/Rajagopal`` running
    trial, as marker data or as anything derived from it)."""
    repo = source.get("repo", "").lower()
    path = source.get("path", "").lower()
    return repo.endswith("opensim-models") and path.startswith("pipelines/rajagopal/") and "run" in path


def _trial(d: dict[str, Any], where: str) -> Trial:
    try:
        t = Trial(id=d["id"], kind=d["kind"], subject=d["subject"], source=dict(d["source"]), licence=d["licence"],
                  source_model=d["source_model"], split=d["split"], note=d.get("note", ""),
                  extra={k: v for k, v in d.items() if k not in Trial.__dataclass_fields__ and k != "note"})
    except (KeyError, TypeError) as exc:
        raise CatalogueError(f"{where}: trial entry {d!r} lacks {exc}") from None
    if t.split not in SPLITS:
        raise CatalogueError(f"{where}: trial {t.id} has split {t.split!r}; expected one of {SPLITS}")
    if is_reserved(t.source):
        raise CatalogueError(f"{where}: trial {t.id} is the team's reserved evaluation trial; it may not be listed")
    return t


def has_pelvis_markers(trial: dict[str, Any]) -> bool:
    """Whether a library trial's pelvis orientation was measured with pelvis markers (ASIS/PSIS), as the
    marker-based IK of ``sources.json`` and the shared walk were: what a prior on how trunk lean splits
    into pelvis tilt and lumbar extension may learn from. CMU trials (retargeted from BVH skeletons,
    which have no anatomical pelvis) and trials flagged ``"pelvis_markers": false`` were not."""
    return "converted" not in trial and bool(trial.get("pelvis_markers", True))


def shared_walk_trial() -> Trial:
    return Trial(
        id=SHARED_WALK_ID, kind="walk", subject="rajagopal_walk_subject",
        source={"shared": "mocap/walk/motion_capture_walk.trc (Scale + IK: training.synth.real_motion)"},
        licence="opensim-models Rajagopal walking example (Apache-2.0), in the repository's data/mocap/walk",
        source_model="Rajagopal2016 (Scale + IK here)", split="train",
    )


def cmu_trials(index_file: Path) -> list[Trial]:
    """CMU trials from the retargeting index, with the held-out rule applied per kind."""
    try:
        entries = json.loads(Path(index_file).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CatalogueError(f"cannot read CMU index {index_file}: {exc}") from exc
    if isinstance(entries, dict):
        entries = entries.get("trials", [])
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        by_kind.setdefault(e["kind"], []).append(e)
    out = []
    default_licence = "CMU Graphics Lab Motion Capture Database: free for all uses"
    for _, items in sorted(by_kind.items()):
        items = sorted(items, key=lambda e: e["id"])
        n = len(items)
        for i, e in enumerate(items, 1):
            if "split" in e:  # pinned by the trial table
                held = e["split"] == "test"
            else:
                held = i % CMU_TEST_EVERY == 0 or (2 <= n < CMU_TEST_EVERY and i == n)
            d = {"subject": e.get("subject", e["id"]), "licence": e.get("licence", default_licence),
                 "source_model": "Rajagopal2016 (OpenSim Scale + IK on virtual markers)",
                 **e, "split": "test" if held else "train", "converted": f"motion_library/cmu/{e['id']}.mot"}
            out.append(_trial(d, str(index_file)))
            if held:  # a held-out trial keeps its longest stretch only: the held-out clips stay the same
                continue
            for seg in e.get("segments", ()):  # the take's further good stretches, same trial and split
                extra = {k: v for k, v in seg.items() if k != "file"}
                out.append(_trial({**d, "segments": [], **extra, "id": Path(seg["file"]).stem, "segment_of": e["id"],
                                   "converted": f"motion_library/cmu/{seg['file']}"}, str(index_file)))
    return out


def load_catalogue(cache: Path | None = None, sources: Path = SOURCES_FILE, shared_walk: bool = True) -> list[Trial]:
    """All trials: ``sources``, the shared walk (unless ``shared_walk`` is false), and CMU trials if
    ``cache`` holds their index."""
    try:
        doc = json.loads(Path(sources).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CatalogueError(f"cannot read {sources}: {exc}") from exc
    trials = [_trial(d, str(sources)) for d in doc["trials"]]
    if shared_walk:
        trials.append(shared_walk_trial())
    if cache is not None:
        index = Path(cache) / "motion_library" / "cmu" / "index.json"
        if index.is_file():
            trials += cmu_trials(index)
    ids = [t.id for t in trials]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise CatalogueError(f"duplicate trial ids: {', '.join(dup)}")
    return trials


__all__ = ["CatalogueError", "Trial", "cmu_trials", "has_pelvis_markers", "is_reserved", "load_catalogue",
           "shared_walk_trial"]
