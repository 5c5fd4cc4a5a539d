"""The README's model-core demo writes files OpenSim loads."""

from __future__ import annotations

from model_store import demo


def test_demo_writes_loadable_files(opensim_module, tmp_path):
    assert demo.main(["--out", str(tmp_path)]) == 0
    model = opensim_module.Model(str(tmp_path / "model_scaled.osim"))
    state = model.initSystem()
    assert abs(model.getTotalMass(state) - 72.0) < 1e-9
    table = opensim_module.TimeSeriesTable(str(tmp_path / "kinematics.mot"))
    assert table.getNumRows() == 120 and table.getNumColumns() == 39
    trc = opensim_module.TimeSeriesTableVec3(str(tmp_path / "joint_centers.trc"))
    assert trc.getNumRows() == 120 and trc.getNumColumns() == 22


def test_demo_reports_unwritable_output(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert demo.main(["--out", str(blocker / "sub")]) == 1
    assert "cannot write" in capsys.readouterr().err
