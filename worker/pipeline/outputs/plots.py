"""PNG plots of the main joint angles over time (degrees), written with matplotlib's Agg backend."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from model_store.biomech import load_definition
from model_store.results import OVERVIEW_PLOT, PLOT_PANELS


def write_plots(times_s: np.ndarray, coords: np.ndarray, out_dir: Path) -> list[str]:
    """One PNG per panel of :data:`~model_store.results.PLOT_PANELS` plus ``overview.png``; returns
    paths relative to ``out_dir.parent``."""
    names = load_definition().coordinate_names
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    fig_all, axes = plt.subplots(2, 3, figsize=(14, 7), sharex=True)
    for ax_all, (panel, coords_in) in zip(axes.flat, PLOT_PANELS.items(), strict=True):
        fig, ax = plt.subplots(figsize=(7, 3.5))
        for n in coords_in:
            deg = np.degrees(np.unwrap(coords[:, names.index(n)]))
            ax.plot(times_s, deg, label=n)
            ax_all.plot(times_s, deg, label=n)
        for a in (ax, ax_all):
            a.set_title(panel.replace("_", " "))
            a.set_ylabel("degrees")
            a.grid(alpha=0.3)
            a.legend(fontsize=7)
        ax.set_xlabel("time (s)")
        fig.tight_layout()
        fig.savefig(out_dir / f"{panel}.png", dpi=90)
        plt.close(fig)
        written.append(f"{out_dir.name}/{panel}.png")
    fig_all.tight_layout()
    fig_all.savefig(out_dir / f"{OVERVIEW_PLOT}.png", dpi=80)
    plt.close(fig_all)
    written.append(f"{out_dir.name}/{OVERVIEW_PLOT}.png")
    return written
