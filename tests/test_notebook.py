"""The example notebook ``docs/steward.ipynb`` runs from top to bottom (so it cannot rot), and
its figures agree with what it claims."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parent.parent / "docs" / "steward.ipynb"


def _text(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                   for o in cell.get("outputs", []))


def test_the_steward_notebook_runs(tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not any(o.output_type == "error" for o in c.outputs) for c in code)
    outputs = [_text(c) for c in code]
    accepted = next(o for o in outputs if "pairs would be accepted" in o)
    assert accepted.strip().endswith("True")  # the dry run counted what was then accepted
    assert any("dry run: would queue" in o for o in outputs)
    undo = next(o for o in outputs if o.startswith("links before undo"))
    before, after = (int(x.split(":")[1]) for x in undo.strip().split(","))
    assert before > 0 and after == 0
    assert any(".xlsx'" in o for o in outputs)
    synced = next(o for o in outputs if o.startswith("synced: "))
    assert synced.splitlines()[1] == ("nothing to sync: no queued actions and no changes in "
                                      "the live systems")  # each action ran once
    assert "error" not in synced.splitlines()[0]
    # the diff renders as an HTML table
    assert any("text/html" in o.get("data", {}) for c in code for o in c.outputs)
