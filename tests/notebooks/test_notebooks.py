"""The notebooks (compare_policies.ipynb, discover.ipynb) execute top to bottom in the project's
own kernel."""

from __future__ import annotations

from pathlib import Path

import nbformat
from helpers import REPO
from nbclient import NotebookClient

ROOT = REPO
NOTEBOOK = ROOT / "notebooks" / "compare_policies.ipynb"
DISCOVER = ROOT / "notebooks" / "discover.ipynb"


def execute(path: Path) -> tuple[list, str]:
    """Run a notebook in the venv's kernel; its code cells (checked error-free) and their text."""
    nb = nbformat.read(path, as_version=4)
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
    text = "".join(
        o.get("text", "") + o.get("data", {}).get("text/plain", "") for c in code for o in c.outputs
    )
    return code, text


def images(code: list) -> list:
    return [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]


def test_compare_policies_notebook_runs(tmp_path: Path):
    code, text = execute(NOTEBOOK)
    assert len(images(code)) >= 3
    assert "access.finetune.global_south" in text and "Δ vs market" in text


def test_discover_notebook_runs(tmp_path: Path):
    code, text = execute(DISCOVER)
    assert len(images(code)) >= 1
    assert "policy_best: public_option is best" in text and "coverage" in text
    assert "regret.public_option" in text and "small_gain" in text
    assert "regret.csv" in text and "discover.html" in text
