"""The motion library: every catalogued trial as model coordinates at 60 Hz, in one cached file.

Build (reads sources from local git mirrors of the listed repositories, never from the network)::

    python -m training.motion_library build --mirrors /work/.mirror [--cache data_cache]

``--mirrors`` holds one bare git directory per repository as ``<owner>+<name>/repo`` (what the
team's ``fetch`` produces; a ``git clone --bare`` of ``https://github.com/<owner>/<name>`` into that
place works the same). Each trial's file is read at its pinned commit when that commit is present,
else at ``HEAD`` (the manifest records which). Output in ``CACHE/motion_library/``:

- ``library.npz``: ``coords`` float32 [N, 39] (rad / m, model order, all trials back to back at
  60 Hz), ``starts`` / ``lengths`` int64 [trials], ``ids`` str [trials];
- ``manifest.json``: per trial its kind, split, subject, source (repo, commit used, path, sha256 of
  the file), licence, frames and seconds; minutes per kind and split.

Coordinates outside the Rajagopal model's ranges are clipped to them (counted per trial in the
manifest). Angles are unwrapped in time.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model_store.biomech import Motion, load_definition, read_mot, resample_motion
from model_store.conventions import MODEL_RATE_HZ
from training.motion_library.catalogue import SHARED_WALK_ID, SOURCES_FILE, Trial, load_catalogue

LIBRARY_DIR = "motion_library"


class LibraryError(RuntimeError):
    pass


@dataclass
class MotionLibrary:
    """Trials (catalogue entries with ``frames``) and their coordinates [T_i, 39] at :data:`MODEL_RATE_HZ`."""

    trials: list[dict]
    coords: list[np.ndarray]

    def select(self, split: str | None = None, kinds: tuple[str, ...] | None = None) -> MotionLibrary:
        keep = [i for i, t in enumerate(self.trials)
                if (split is None or t["split"] == split) and (kinds is None or t["kind"] in kinds)]
        return MotionLibrary([self.trials[i] for i in keep], [self.coords[i] for i in keep])

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted({t["kind"] for t in self.trials}))

    def minutes_by_kind(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for t, q in zip(self.trials, self.coords, strict=True):
            out[t["kind"]] = out.get(t["kind"], 0.0) + len(q) / MODEL_RATE_HZ / 60.0
        return {k: round(v, 2) for k, v in sorted(out.items())}

    def __len__(self) -> int:
        return len(self.trials)


def library_dir(cache: Path) -> Path:
    return Path(cache) / LIBRARY_DIR


def _git_read(mirrors: Path, source: dict[str, str]) -> tuple[bytes, str]:
    owner, name = source["repo"].split("/")
    git_dir = Path(mirrors) / f"{owner}+{name}" / "repo"
    if not git_dir.is_dir():
        raise LibraryError(f"no mirror of {source['repo']} at {git_dir}")
    for rev in (source.get("commit"), "HEAD"):
        if not rev:
            continue
        res = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{rev}:{source['path']}"],
                             capture_output=True, check=False)
        if res.returncode == 0:
            commit = subprocess.run(["git", f"--git-dir={git_dir}", "rev-parse", rev], capture_output=True,
                                    text=True, check=False).stdout.strip()
            return res.stdout, commit
    raise LibraryError(f"{source['repo']}:{source['path']} not found in {git_dir}")


def _clip_to_ranges(q: np.ndarray) -> tuple[np.ndarray, int]:
    md = load_definition()
    lo = np.array([c.range[0] for c in md.coordinates])
    hi = np.array([c.range[1] for c in md.coordinates])
    joint = np.array([not n.startswith("pelvis") for n in md.coordinate_names])
    clipped = np.clip(q, lo, hi)
    n = int(((clipped != q) & joint[None]).any(1).sum())
    q = np.where(joint[None], clipped, q)
    return q, n


def _read_trial(trial: Trial, mirrors: Path, cache: Path) -> tuple[Motion, dict]:
    if trial.id == SHARED_WALK_ID:
        from training.synth.real_motion import walk_trial_ik

        path = walk_trial_ik(cache)
        return read_mot(path), {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    if "converted" in trial.extra:  # retargeted here with OpenSim Scale + IK (CMU): a .mot under the cache
        p = Path(cache) / trial.extra["converted"]
        return read_mot(p), {**trial.source, "converted": str(p), "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
    if "repo" in trial.source:
        data, commit = _git_read(mirrors, trial.source)
        with tempfile.TemporaryDirectory() as tmp:
            p = Path(tmp) / "trial.mot"
            p.write_bytes(data)
            motion = read_mot(p)
        return motion, {**trial.source, "commit_used": commit, "sha256": hashlib.sha256(data).hexdigest()}
    raise LibraryError(f"trial {trial.id}: no readable source in {trial.source}")


def build_library(mirrors: Path, cache: Path, progress: bool = True, sources: Path = SOURCES_FILE,
                  shared_walk: bool = True) -> Path:
    """Read, convert and store every catalogued trial (see :func:`load_catalogue`); returns the manifest path."""
    trials = load_catalogue(cache, sources, shared_walk)
    coords, entries = [], []
    for trial in trials:
        try:
            motion, provenance = _read_trial(trial, mirrors, cache)
        except (LibraryError, OSError, ValueError) as exc:
            raise LibraryError(f"trial {trial.id}: {exc}") from exc
        _, q = resample_motion(motion, MODEL_RATE_HZ)
        if "max_seconds" in trial.extra:  # a long steady trial: its first seconds are enough
            q = q[: int(round(float(trial.extra["max_seconds"]) * MODEL_RATE_HZ))]
        names = load_definition().coordinate_names
        for name in trial.extra.get("negate", ()):
            q[:, names.index(name)] *= -1.0
        q, n_clipped = _clip_to_ranges(q)
        coords.append(q.astype(np.float32))
        entries.append({**trial.as_dict(), "provenance": provenance, "frames": len(q),
                        "seconds": round(len(q) / MODEL_RATE_HZ, 2), "frames_clipped_to_ranges": n_clipped,
                        "source_rate_hz": round(motion.rate_hz, 2)})
        if progress:
            print(f"  {trial.id:38s} {trial.kind:13s} {trial.split:5s} {len(q) / MODEL_RATE_HZ:6.1f} s", flush=True)
    out = library_dir(cache)
    out.mkdir(parents=True, exist_ok=True)
    lengths = np.array([len(q) for q in coords], np.int64)
    np.savez_compressed(out / "library.npz", coords=np.concatenate(coords), lengths=lengths,
                        starts=np.concatenate([[0], np.cumsum(lengths)[:-1]]), ids=np.array([t.id for t in trials]))
    lib = MotionLibrary(entries, coords)
    summary = {split: lib.select(split).minutes_by_kind() for split in ("train", "test")}
    manifest = {"fps": MODEL_RATE_HZ, "coordinates": list(load_definition().coordinate_names), "trials": entries,
                "minutes": summary, "total_minutes": round(sum(lengths) / MODEL_RATE_HZ / 60, 2)}
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=1) + "\n")
    return path


def load_library(cache: Path) -> MotionLibrary:
    """The built library (see :func:`build_library`)."""
    d = library_dir(cache)
    try:
        manifest = json.loads((d / "manifest.json").read_text())
        z = np.load(d / "library.npz", allow_pickle=False)
    except (OSError, json.JSONDecodeError) as exc:
        raise LibraryError(f"no motion library in {d} ({exc}); build it with "
                           "`python -m training.motion_library build --mirrors DIR`") from exc
    all_q = z["coords"]
    coords = [all_q[s:s + n] for s, n in zip(z["starts"], z["lengths"], strict=True)]
    ids = [str(i) for i in z["ids"]]
    if ids != [t["id"] for t in manifest["trials"]]:
        raise LibraryError(f"{d}: library.npz and manifest.json disagree; rebuild")
    return MotionLibrary(manifest["trials"], coords)


__all__ = ["MODEL_RATE_HZ", "LibraryError", "MotionLibrary", "build_library", "library_dir", "load_library"]
