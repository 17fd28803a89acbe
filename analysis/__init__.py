"""Analysis of batch results: load, compare policies, plot outcome curves, report, experiments.

The names below are imported lazily (PEP 562), so ``run.py list`` and the command-line parser,
which import :mod:`analysis.cli`, do not pay for pandas, scipy or matplotlib.

Typical notebook use::

    import analysis
    res = analysis.run_batch(["market", "public_option"], "/tmp/b", replicates=3, steps=36)
    table = analysis.compare(res, baseline="market")
    analysis.plot_metric(res, "access.finetune.global_south", ax=ax)
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AnalysisError": "analysis.results",
    "Results": "analysis.results",
    "load_batch": "analysis.results",
    "from_frame": "analysis.results",
    "add_derived": "analysis.derived",
    "t_interval": "analysis.stats",
    "compare": "analysis.comparison",
    "compare_markdown": "analysis.comparison",
    "write_compare": "analysis.comparison",
    "scenario_colours": "analysis.plots",
    "plot_metric": "analysis.plots",
    "plot_access_grid": "analysis.plots",
    "plot_access_gap": "analysis.plots",
    "plot_capture": "analysis.plots",
    "plot_downloads": "analysis.plots",
    "plot_curves": "analysis.plots",
    "write_figures": "analysis.plots",
    "write_report": "analysis.report",
    "run_batch": "analysis.runs",
    "load_experiment": "analysis.claims",
    "evaluate": "analysis.verdicts",
    "verdict": "analysis.verdicts",
    "run_experiment": "analysis.experiment",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
