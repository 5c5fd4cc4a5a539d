"""The reliability table in docs/testing.md is the reliability suite's case list, and its generator
(``python -m tests.service.reliability``) writes it there. No processes: this runs in the fast lane."""

from __future__ import annotations

from tests.service import reliability


def test_docs_table_lists_every_case():
    """docs/testing.md's reliability table is the suite's case list (``python -m tests.service.reliability``)."""
    assert len(reliability.CASES) >= 60
    assert len({c.id for c in reliability.CASES}) == len(reliability.CASES)  # ids name the parametrized tests
    table = reliability.table_in(reliability.TABLE_DOC.read_text())
    assert table is not None, f"{reliability.TABLE_DOC} lacks the reliability table markers"
    assert table == reliability.markdown_table()


def test_the_generator_rewrites_only_the_table(tmp_path, capsys):
    doc = tmp_path / "testing.md"
    doc.write_text("# Testing\n\n<!-- reliability-table -->\n| old |\n<!-- /reliability-table -->\n\nafter\n")
    assert reliability.main(["--doc", str(doc), "--check"]) == 1
    assert reliability.main(["--doc", str(doc)]) == 0
    text = doc.read_text()
    assert text.startswith("# Testing\n\n<!-- reliability-table -->\n| # | case |") and text.endswith("\n\nafter\n")
    assert reliability.table_in(text) == reliability.markdown_table()
    assert reliability.main(["--doc", str(doc), "--check"]) == 0
    (tmp_path / "plain.md").write_text("no markers\n")
    assert reliability.main(["--doc", str(tmp_path / "plain.md")]) == 1
    assert "markers" in capsys.readouterr().err
