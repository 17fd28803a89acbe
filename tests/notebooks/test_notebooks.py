"""notebooks/compare_policies.ipynb executes top to bottom in the project's own kernel."""

from __future__ import annotations

from pathlib import Path

import nbformat
from helpers import REPO
from nbclient import NotebookClient

ROOT = REPO
NOTEBOOK = ROOT / "notebooks" / "compare_policies.ipynb"


def test_compare_policies_notebook_runs(tmp_path: Path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",  # the venv's ipykernel (the kernelspec of sys.executable)
        resources={"metadata": {"path": str(ROOT)}},  # the kernel's working directory
    )
    client.execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors
    images = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3
    text = "".join(o.get("text", "") for c in code for o in c.outputs)
    assert "access.finetune.global_south" in text and "Δ vs market" in text
