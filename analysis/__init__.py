"""Analysis of batch results, by concern.

``results`` (load, compare, plot, report), the ``experiment`` (claims judged as paired
comparisons), ``fitting`` (targets, validate, calibrate, sensitivity) and ``discovery`` (regret
and PRIM boxes across sampled futures; the EMA Workbench adapter). Dependencies point one way:
discovery -> experiment | fitting -> results -> simulation.batch -> the model.

The names below are imported lazily (PEP 562), so the command-line parser does not pay for
pandas, scipy or matplotlib.

Typical notebook use::

    import analysis
    res = analysis.run_batch(["market", "public_option"], "/tmp/b", replicates=3, steps=36)
    table = analysis.compare(res, baseline="market")
    analysis.plot_metric(res, "access.finetune.global_south", ax=ax)
"""

from __future__ import annotations

from simulation.lazy import lazy_exports

_EXPORTS = {
    "AnalysisError": "analysis.results.load",
    "Results": "analysis.results.load",
    "load_batch": "analysis.results.load",
    "from_frame": "analysis.results.load",
    "add_derived": "analysis.results.derived",
    "t_interval": "analysis.results.stats",
    "compare": "analysis.results.compare",
    "compare_markdown": "analysis.results.compare",
    "write_compare": "analysis.results.compare",
    "scenario_colours": "analysis.results.plots",
    "plot_metric": "analysis.results.plots",
    "plot_access_grid": "analysis.results.plots",
    "plot_access_gap": "analysis.results.plots",
    "plot_capture": "analysis.results.plots",
    "plot_downloads": "analysis.results.plots",
    "plot_curves": "analysis.results.plots",
    "write_figures": "analysis.results.plots",
    "write_report": "analysis.results.report",
    "run_batch": "analysis.results.runs",
    "load_experiment": "analysis.experiment.claims",
    "evaluate": "analysis.experiment.verdicts",
    "verdict": "analysis.experiment.verdicts",
    "run_experiment": "analysis.experiment.run",
    "run_validation": "analysis.fitting.validate",
    "run_calibration": "analysis.fitting.calibrate",
    "run_sensitivity": "analysis.fitting.sensitivity",
    "run_discovery": "analysis.discovery.run",
    "DiscoveryDesign": "analysis.discovery.run",
    "ema_model": "analysis.discovery.adapter",
    "final_mean": "analysis.discovery.adapter",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
