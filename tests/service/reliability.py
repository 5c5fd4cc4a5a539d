"""The reliability suite's cases: hostile requests and events, each with the answer it must get.

Every case acts on the running stack (:class:`Ctx`) and returns what came back (:class:`Outcome`);
``tests/service/test_reliability.py`` runs each one and checks the answer's status and error code, the
final job state for accepted uploads, that nothing was left on disk or in Redis, and that the API
stays healthy. The harness is :mod:`tests.service.reliability_harness`; the cases are in
:mod:`tests.service.reliability_requests` (what a client sends) and :mod:`tests.service.reliability_jobs`
(jobs, routes, lifecycle and outages).

The reliability table in ``docs/testing.md`` (between ``<!-- reliability-table -->`` and
``<!-- /reliability-table -->``) is :func:`markdown_table` of :data:`CASES`, and a test keeps the two
identical. ``python -m tests.service.reliability`` writes it there (``--print``: to stdout instead;
``--check``: exit 1 when the file's table is not the cases').
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from pathlib import Path

from tests.service.reliability_harness import CALIBRATION, SUITE_ENV, Case, Ctx, Outcome
from tests.service.reliability_jobs import ACCESS_CASES, LIFECYCLE_CASES, ROUTE_CASES
from tests.service.reliability_requests import BODY_CASES, CALIBRATION_CASES, FORM_CASES, VIDEO_CASES

__all__ = ["CALIBRATION", "CASES", "SUITE_ENV", "TABLE_DOC", "Case", "Ctx", "Outcome", "markdown_table"]

CASES: list[Case] = [*VIDEO_CASES, *FORM_CASES, *BODY_CASES, *CALIBRATION_CASES, *ACCESS_CASES, *ROUTE_CASES,
                     *LIFECYCLE_CASES]

#: The document that holds the reliability table, and the table's markers in it.
TABLE_DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
TABLE_BLOCK = re.compile(r"(<!-- reliability-table -->\n)(.*?)(\n<!-- /reliability-table -->)", re.S)


def markdown_table() -> str:
    """The reliability table: one row per case."""
    rows = ["| # | case | answer | job ends | leftovers |", "| --- | --- | --- | --- | --- |"]
    for i, c in enumerate(CASES, 1):
        answer = "connection closed by the client" if c.status == 0 else f"{c.status} `{c.code}`" if c.code \
            else str(c.status)
        job = f"`{c.job}`" + (f" `{c.job_code}`" if c.job_code else "") if c.job else "—"
        rows.append(f"| {i} | {c.group}: {c.what} | {answer} | {job} | none |")
    return "\n".join(rows)


def table_in(text: str) -> str | None:
    """The table between the markers in ``text`` (None: no markers)."""
    block = TABLE_BLOCK.search(text)
    return block.group(2).strip() if block else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write the reliability table into docs/testing.md.")
    ap.add_argument("--doc", type=Path, default=TABLE_DOC, help="the document holding the table markers")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--print", action="store_true", help="print the table instead of writing it")
    mode.add_argument("--check", action="store_true", help="exit 1 when the document's table is out of date")
    args = ap.parse_args(argv)
    table = markdown_table()
    if args.print:
        print(table)
        return 0
    text = args.doc.read_text() if args.doc.is_file() else ""
    if table_in(text) is None:
        print(f"error: {args.doc} has no <!-- reliability-table --> ... <!-- /reliability-table --> markers",
              file=sys.stderr)
        return 1
    if args.check:
        if table_in(text) != table:
            print(f"{args.doc}: the reliability table is out of date (python -m tests.service.reliability)",
                  file=sys.stderr)
            return 1
        return 0
    args.doc.write_text(TABLE_BLOCK.sub(lambda m: m.group(1) + table + m.group(3), text, count=1))
    print(f"wrote {len(CASES)} cases into {args.doc}")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        raise SystemExit(main())
