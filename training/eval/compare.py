"""Paired comparison of two :mod:`training.eval.pipeline` reports on the same held-out clips.

    python -m training.eval.compare BASE.json CANDIDATE.json [--mode none|fit] [--json out.json]
        [--require-better]

Both reports must score the same clips: the same split, the same detections (exact or perturbed) and
the same ``(kind, seed)`` set with the same frame counts (run ``evaluate_pipeline`` twice with the same
``--kinds``, ``--clips``, ``--seconds``, ``--split`` and ``--exact``, changing only ``--checkpoint`` or
``--mirror-average``). Clips are the unit: for every kind and for all clips together, each headline
figure's difference *candidate − base* is averaged over the clips, with a 95 % paired Student-t
interval. Smaller is better for every figure (degrees, per cent, millimetres), and for the knee
amplitude, which compares ``|ratio − 1|``, on gait kinds only in the ``all`` row as in the report.

A figure is ``better`` when its whole interval lies below zero, ``worse`` when it lies above, and
``within noise`` otherwise (``too few clips`` with one clip: no interval). The ``all`` row's verdict on
the four headline figures gives the overall answer: ``better`` (at least one better, none worse),
``worse`` (the reverse), ``mixed`` (some of each) or ``within noise``. The interval's half-width is
the smallest difference these clips can tell apart — a bundling decision should not rest on less.
When the reports hold both held-out real motions (``real_*`` kinds) and procedural kinds, two more
rows pool each group, and the ``real motion`` row gets its own verdict the same way: real motion is
what users bring, so a network that wins on procedural clips while losing on real ones is no gain.

Exit status: 0, or 1 with ``--require-better`` unless the overall answer is ``better`` and the real
motion verdict (when there is one) is not ``worse`` or ``mixed``; 2 when the reports cannot be paired.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from training.eval.pipeline import GAIT_KINDS, HEADLINE

#: Kinds made from held-out library trials start with this; the group rows' names.
REAL_PREFIX, REAL_ROW, PROCEDURAL_ROW = "real_", "real motion", "procedural"
#: The compared figures; ``knee_amplitude_error`` is ``|knee_amplitude_ratio − 1|``.
FIGURES: tuple[str, ...] = (*HEADLINE, "knee_amplitude_error")


class ReportMismatch(ValueError):
    """The two reports do not score the same clips, so they cannot be compared clip by clip."""


@dataclass(frozen=True)
class Difference:
    """Candidate − base for one figure over ``clips`` paired clips (units of the figure)."""

    base: float
    candidate: float
    mean: float
    low: float | None  # 95 % interval; None with fewer than two clips
    high: float | None
    candidate_wins: int  # clips where the candidate is strictly better
    clips: int
    verdict: str  # better | worse | within noise | too few clips


def _figure(scores: dict[str, Any], name: str) -> float | None:
    if name == "knee_amplitude_error":
        ratio = scores.get("knee_amplitude_ratio")
        return None if ratio is None else abs(float(ratio) - 1.0)
    return float(scores[name])


def paired_difference(base: np.ndarray, candidate: np.ndarray, confidence: float = 0.95) -> Difference:
    """Mean of ``candidate − base`` over paired clips with its two-sided Student-t interval."""
    base, candidate = np.asarray(base, float), np.asarray(candidate, float)
    d = candidate - base
    n, mean = len(d), float(d.mean())
    low = high = None
    if n < 2:
        verdict = "too few clips"
    else:
        half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * d.std(ddof=1) / np.sqrt(n))
        low, high = mean - half, mean + half
        verdict = "better" if high < 0 else "worse" if low > 0 else "within noise"
    return Difference(round(float(base.mean()), 3), round(float(candidate.mean()), 3), round(mean, 3),
                      None if low is None else round(low, 3), None if high is None else round(high, 3),
                      int((d < 0).sum()), n, verdict)


def _clips(report: dict[str, Any], mode: str, label: str) -> dict[tuple[str, int], dict[str, Any]]:
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for r in report.get("clips", []):
        if mode not in r:
            raise ReportMismatch(f"{label} has no {mode!r} scores (was it run with --network-only?)")
        out[(str(r["kind"]), int(r["seed"]))] = r
    if not out:
        raise ReportMismatch(f"{label} holds no clips")
    return out


def compare(base: dict[str, Any], candidate: dict[str, Any], mode: str = "none") -> dict[str, Any]:
    """Per kind and ``all``: a :class:`Difference` per figure, plus the overall verdict.

    Raises :class:`ReportMismatch` unless both reports score the same clips (split, detections,
    ``(kind, seed)`` set and frame counts)."""
    for field in ("split", "exact"):
        if base.get(field) != candidate.get(field):
            raise ReportMismatch(f"the reports differ in {field!r}: {base.get(field)!r} vs {candidate.get(field)!r}")
    a, b = _clips(base, mode, "the base report"), _clips(candidate, mode, "the candidate report")
    if set(a) != set(b):
        only = sorted(set(a) ^ set(b))[:5]
        raise ReportMismatch(f"the reports score different clips (kind, seed), e.g. {only}; run both with the "
                             "same --kinds, --clips, --seconds and --split")
    frames = [k for k in a if a[k]["frames"] != b[k]["frames"]]
    if frames:
        raise ReportMismatch(f"clip {frames[0]} has {a[frames[0]]['frames']} frames in one report and "
                             f"{b[frames[0]]['frames']} in the other; were they run with the same --seconds?")
    clips = sorted(a)
    by_kind: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for clip in clips:
        by_kind[clip[0]].append(clip)
    real = [k for k in clips if k[0].startswith(REAL_PREFIX)]
    if real and len(real) < len(clips):  # both groups present: a row each (real motion is what users bring)
        by_kind[REAL_ROW] = real
        by_kind[PROCEDURAL_ROW] = [k for k in clips if not k[0].startswith(REAL_PREFIX)]
    by_kind["all"] = clips
    rows: dict[str, dict[str, Any]] = {}
    for kind, keys in by_kind.items():
        rows[kind] = {}
        for fig in FIGURES:
            use = keys
            if fig == "knee_amplitude_error" and kind in ("all", REAL_ROW, PROCEDURAL_ROW):
                use = [k for k in keys if k[0] in GAIT_KINDS]
            pairs = [(_figure(a[k][mode], fig), _figure(b[k][mode], fig)) for k in use]
            pairs = [p for p in pairs if p[0] is not None and p[1] is not None]
            if pairs:
                x, y = np.array(pairs, float).T
                rows[kind][fig] = asdict(paired_difference(x, y))
    overall = _verdict(rows["all"])
    real_verdict = _verdict(rows[REAL_ROW]) if REAL_ROW in rows else None
    return {"mode": mode, "split": base.get("split"), "exact": base.get("exact"), "clips": len(a),
            "base": base.get("checkpoint"), "candidate": candidate.get("checkpoint"),
            "base_mirror_average": base.get("mirror_average"),
            "candidate_mirror_average": candidate.get("mirror_average"), "kinds": rows, "overall": overall,
            "real_motion": real_verdict}


def _verdict(row: dict[str, Any]) -> str:
    """better (some headline figure better, none worse), worse (the reverse), mixed, or within noise."""
    verdicts = [row[f]["verdict"] for f in HEADLINE if f in row]
    better, worse = "better" in verdicts, "worse" in verdicts
    return "mixed" if better and worse else "better" if better else "worse" if worse else "within noise"


def accepted(result: dict[str, Any]) -> bool:
    """The bundling rule: better over all clips, and on the held-out real motions (when the reports
    hold both real and procedural kinds) not worse on any headline figure."""
    return result["overall"] == "better" and result.get("real_motion") in (None, "better", "within noise")


def _cell(d: dict[str, Any] | None) -> str:
    if d is None:
        return "—"
    ci = "" if d["low"] is None else f" [{d['low']:+.2f}, {d['high']:+.2f}]"
    mark = {"better": " ✓", "worse": " ✗"}.get(d["verdict"], "")
    return f"{d['base']:.2f} → {d['candidate']:.2f} ({d['mean']:+.2f}{ci}){mark}"


def markdown_table(result: dict[str, Any]) -> str:
    """One row per kind: base → candidate (difference [95 % interval]), ✓ better, ✗ worse."""
    lines = ["| kind | clips | " + " | ".join(FIGURES) + " |", "|" + "---|" * (len(FIGURES) + 2)]
    for kind, row in result["kinds"].items():
        n = max((d["clips"] for d in row.values()), default=0)
        lines.append(f"| {kind} | {n} | " + " | ".join(_cell(row.get(f)) for f in FIGURES) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base", type=Path, help="evaluate_pipeline --json report of the reference (the bundled network)")
    ap.add_argument("candidate", type=Path, help="the report to judge, on the same clips")
    ap.add_argument("--mode", choices=("none", "fit"), default="none", help="network only (none) or after the fit")
    ap.add_argument("--json", type=Path, help="write the comparison here")
    ap.add_argument("--require-better", action="store_true", help="exit 1 unless the overall answer is 'better'")
    args = ap.parse_args(argv)
    reports = []
    for path in (args.base, args.candidate):
        try:
            reports.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            print(f"error: cannot read the report {path}: {exc}", file=sys.stderr)
            return 2
    try:
        result = compare(reports[0], reports[1], mode=args.mode)
    except (ReportMismatch, KeyError, TypeError, ValueError) as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        print(f"error: {args.base} and {args.candidate} cannot be compared: {detail}", file=sys.stderr)
        return 2
    print(f"{result['clips']} paired clips, split {result['split']}, "
          f"{'exact' if result['exact'] else 'perturbed'} detections, mode {result['mode']}; "
          "candidate − base with its 95 % interval (negative is better)")
    print(markdown_table(result))
    print(f"overall: {result['overall']}")
    if result["real_motion"] is not None:
        print(f"held-out real motion: {result['real_motion']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 1 if args.require_better and not accepted(result) else 0


if __name__ == "__main__":
    raise SystemExit(main())
