"""The result-name registry: every file the writers produce is downloadable, with a content type."""

from __future__ import annotations

import numpy as np

from model_store import results
from model_store.biomech import load_definition


def test_every_written_name_has_a_content_type():
    names = {*results.RESULT_FILES, *results.OVERLAY_FILES, results.KINEMATICS_SD}
    assert names <= set(results.CONTENT_TYPES)
    coords = set(load_definition().coordinate_names)
    assert all(set(c) <= coords for c in results.PLOT_PANELS.values())


def test_plots_written_are_the_registered_ones(tmp_path):
    from worker.pipeline.outputs.plots import write_plots

    n = len(load_definition().coordinate_names)
    written = write_plots(np.arange(5) / 60.0, np.zeros((5, n)), tmp_path / results.PLOTS_DIR)
    assert set(written) == {results.plot_file(p) for p in (results.OVERVIEW_PLOT, *results.PLOT_PANELS)}
    assert set(written) <= set(results.CONTENT_TYPES)
