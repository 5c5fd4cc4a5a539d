"""``python -m training.motion_library build --mirrors DIR [--cache data_cache]``: build the library."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from training.motion_library.catalogue import CatalogueError
from training.motion_library.library import LibraryError, build_library


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.motion_library", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="convert every catalogued trial into CACHE/motion_library/")
    b.add_argument("--mirrors", type=Path, required=True, help="folder of bare git mirrors <owner>+<name>/repo")
    b.add_argument("--cache", type=Path, default=Path("data_cache"))
    args = ap.parse_args(argv)
    try:
        manifest = build_library(args.mirrors, args.cache)
    except (LibraryError, CatalogueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    m = json.loads(manifest.read_text())
    print(f"wrote {manifest}: {m['total_minutes']} min; by split and kind (min): {json.dumps(m['minutes'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
