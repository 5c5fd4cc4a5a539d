"""The bundled network's model card, generated from its checkpoint manifest (torchvision-style records).

    python -m training.model_card             # print it
    python -m training.model_card --write     # write it into docs/model-card.md (between its markers)

Everything on the card is read from ``model_store/checkpoints/default.json`` (the manifest our training
writes): the architecture's configuration, the weights' hash, how it was trained leg by leg (recipe,
hardware, steps, wall time), the data mixture and the motion sources with their licences and splits,
and its figures on training's own held-out test set beside the constant mean-pose floor. A test
keeps ``docs/model-card.md`` equal to what this prints.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from model_store.network.checkpoint import find_checkpoint

DOC = Path(__file__).resolve().parents[1] / "docs" / "model-card.md"
START, END = "<!-- model-card -->", "<!-- /model-card -->"
FIGURES = (("ll_mae_deg", "hip/knee/ankle MAE (°)"), ("mae_deg", "all 36 angles MAE (°)"),
           ("scale_err_pct", "body scales error (%)"), ("mpjpe_mm", "MPJPE, pelvis-aligned (mm)"))


def _lineage(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The training legs, oldest first: each ``initialised_from`` record, then the manifest itself."""
    legs = [manifest]
    node = manifest.get("initialised_from")
    while isinstance(node, dict):
        legs.append(node)
        node = node.get("initialised_from")
    return legs[::-1]


def _recipe(leg: dict[str, Any]) -> str:
    training = leg.get("training")
    if isinstance(training, dict):
        return str(training.get("name", "—"))
    return str(training) if training else "—"


def _minutes(seconds: Any) -> str:
    return f"{float(seconds) / 60:.1f} min" if isinstance(seconds, int | float) else "—"


def model_card(manifest_path: Path | None = None) -> str:
    """The card (markdown) of the checkpoint at ``manifest_path`` (default: the bundled one)."""
    record = find_checkpoint(manifest_path)
    m = json.loads(json.dumps(record.manifest))
    cfg = record.config
    out = [f"**Network** `{cfg.name}` (two-view spatio-temporal, Lin et al. 2024), weights "
           f"`{record.weights.name}`, sha256 `{record.sha256[:16]}…`, created {m.get('created_utc', '—')}, "
           f"torch {m.get('torch', '—')}.", ""]
    out += ["| configuration | value |", "| --- | --- |"]
    out += [f"| {k} | {v} |" for k, v in cfg.to_dict().items()]
    out += ["", "**Training legs** (oldest first; each continued the weights before it):", "",
            "| leg | recipe | hardware | steps | wall time |", "| --- | --- | --- | --- | --- |"]
    for i, leg in enumerate(_lineage(m), 1):
        out.append(f"| {i} | {_recipe(leg)} | {leg.get('hardware', '—')} | {leg.get('steps', '—')} | "
                   f"{_minutes(leg.get('wall_time_s'))} |")
    recipe = m.get("data_recipe", {})
    out += ["", f"**Data**: synthetic two-view renders generated on the fly; mixture {recipe.get('mixture', '—')}. "
            "Real motion comes from the motion library's training split only; held-out trials are never trained on.",
            ""]
    sources = m.get("motion_sources", [])
    if sources:
        kinds = Counter(s.get("kind", "?") for s in sources)
        splits = Counter(s.get("split", "?") for s in sources)
        out += [f"Motion sources: {len(sources)} trials ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}); "
                f"splits {dict(sorted(splits.items()))}. Licences:", ""]
        for licence, n in sorted(Counter(s.get("licence", "—") for s in sources).items()):
            out.append(f"- {n} trial(s): {licence}")
        out.append("")
    metrics, floor = m.get("metrics", {}), m.get("baseline_mean_pose", {}).get("metrics", {})
    out += ["**Figures on training's own held-out test set** (its recipe's test sequences; the product's "
            "held-out evaluation is in [evaluation.md](evaluation.md)):", "",
            "| figure | network | constant mean-pose floor |", "| --- | --- | --- |"]
    for key, label in FIGURES:
        if key in metrics:
            base = f"{floor[key]:.2f}" if key in floor else "—"
            out.append(f"| {label} | {metrics[key]:.2f} | {base} |")
    out += ["", "**Intended use**: the prior of the per-clip fit in this service (two calibrated or self-calibrated "
            "views of one person, 60 Hz). **Limits**: trained on synthetic silhouettes and keypoints only; how "
            "trunk lean splits into pelvis tilt and lumbar extension is not visible to it (the fit's anatomical "
            "prior and sigma say so); body widths and depths are weakly constrained."]
    return "\n".join(out)


def write_card(path: Path = DOC) -> None:
    """Replace the text between the model-card markers of ``path`` with :func:`model_card`."""
    text = path.read_text()
    head, sep, rest = text.partition(START)
    _, sep2, tail = rest.partition(END)
    if not (sep and sep2):
        raise ValueError(f"{path} has no {START} … {END} markers")
    path.write_text(f"{head}{START}\n{model_card()}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help=f"write the card into {DOC.name}")
    args = ap.parse_args(argv)
    if args.write:
        write_card()
    else:
        print(model_card())
    return 0


if __name__ == "__main__":
    sys.exit(main())
