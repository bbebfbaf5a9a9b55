"""examples/notebook.ipynb executed in a real Jupyter kernel (nbclient + ipykernel): every
cell runs, the show() cells display pythreejs widget views, the live cell trains."""

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).parents[2] / "examples" / "notebook.ipynb"
WIDGET = "application/vnd.jupyter.widget-view+json"


def test_example_notebook_runs_and_shows_widgets():
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    shown = [any(WIDGET in o.get("data", {}) for o in c.outputs) for c in code]
    assert shown[:3] == [True, True, True]  # digits CNN, GPT-2, the live run
    text = "".join(o.get("text", "") for o in code[3].outputs)
    assert "trained 50 steps" in text
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert errors == []
