"""A bare git mirror laid out as the ``fetch`` tool leaves one (``<mirrors>/<owner>+<name>/repo``), for
tests of code that reads sources with ``git show``."""

from __future__ import annotations

import subprocess
from pathlib import Path


def bare_mirror(tmp_path: Path, files: dict[str, str], name: str = "acme+mocap") -> Path:
    """Commit ``files`` (path -> text) to a new repository and clone it bare to
    ``tmp_path/mirrors/<name>/repo``; returns the ``mirrors`` folder."""
    work = tmp_path / "work"
    for rel, text in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    mirrors = tmp_path / "mirrors"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(mirrors / name / "repo")], check=True)
    return mirrors
