"""The README stays short and is the way into the docs: every page under docs/ is linked from it, and
every relative link in the README and the docs points at a file that exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_the_readme_is_short():
    assert len(README.read_text().splitlines()) <= 200


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(README.parent / m).resolve() for m in LINK.findall(README.read_text())}
    pages = sorted((ROOT / "docs").glob("*.md"))
    assert pages, "docs/ has no pages"
    missing = [p.name for p in pages if p.resolve() not in linked]
    assert not missing, missing


def test_relative_links_point_at_files_that_exist():
    broken = []
    for doc in [README, ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in LINK.findall(doc.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (doc.parent / target).exists():
                broken.append(f"{doc.relative_to(ROOT)} -> {target}")
    assert not broken, broken
