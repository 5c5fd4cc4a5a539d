"""A folder or bare git mirror of BVH files, found by trial name (``git show`` for bare mirrors).
Used by :mod:`training.motion_library.cmu_retarget`."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from training.motion_library.bvh import parse_bvh
from training.motion_library.virtual_markers import Reference, RetargetError, reference_pose


class Mirror:
    """A source of BVH files: a bare git directory (read with ``git show``) or a plain folder."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.is_git = (self.path / "HEAD").is_file() and (self.path / "objects").is_dir()
        name = self.path.parent.name if self.path.name == "repo" else self.path.name
        self.repo = name.replace("+", "/", 1) if "+" in name else name
        self.commit = self._git("rev-parse", "HEAD").strip() if self.is_git else None
        if self.is_git:
            # a snapshot may list its largest files without holding them (size shown as non-numeric)
            rows = [ln.split("\t", 1) for ln in self._git("ls-tree", "-r", "-l", "HEAD").splitlines() if "\t" in ln]
            files = [path for meta, path in rows if meta.split()[-1].isdigit()]
        else:
            files = [str(p.relative_to(self.path)) for p in self.path.rglob("*.bvh")]
        self.by_trial: dict[str, str] = {}
        self._reference: Reference | None = None
        for f in sorted(files):
            base = f.rsplit("/", 1)[-1]
            # 007_01.bvh -> 07_01; a suffixed copy (60_01_scaled.bvh) serves when the plain name is absent
            m = re.fullmatch(r"(\d+)_(\d+)(_[A-Za-z][A-Za-z0-9_]*)?\.bvh", base)
            key = f"{int(m.group(1)):02d}_{m.group(2)}" if m else None
            if key and key not in self.by_trial:
                self.by_trial[key] = f

    def shared_reference(self) -> Reference:
        """The first upright reference pose found among this mirror's trials (sorted by trial): what
        a Character Creator file without a T-pose of its own borrows from a file of the same avatar."""
        if self._reference is None:
            for rel in self.by_trial.values():
                try:
                    ref = reference_pose(parse_bvh(self.read(rel)))
                except (RetargetError, ValueError, subprocess.CalledProcessError):
                    continue
                if ref is not None:
                    self._reference = ref
                    break
            else:
                raise RetargetError(f"no trial in {self.path} has an upright reference pose (T-pose)")
        return self._reference

    def _git(self, *args: str) -> str:
        return subprocess.run(["git", f"--git-dir={self.path}", *args], check=True, capture_output=True,
                              text=True).stdout

    def read(self, rel: str) -> str:
        return self._git("show", f"HEAD:{rel}") if self.is_git else (self.path / rel).read_text()
