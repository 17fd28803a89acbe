"""Scenario discovery under deep uncertainty: sampled futures, regret and PRIM boxes.

Modules: ``ema`` (EMA Workbench, imported on use), ``sample`` (the uncertainties, checked, and
their seeded Latin hypercube), ``threshold`` (``--fails 'METRIC<VALUE'``), ``regret`` (each
scenario's outcome per sample, the best one and the regrets), ``boxes`` (PRIM boxes and the
rule that picks one along the peeling trajectory), ``page`` (discover.html), ``run`` (the whole
command) and ``adapter`` (the model as an EMA Workbench ``ReplicatorModel``).

The defaults below are light to import, so the command line shows them without loading pandas
or EMA Workbench.
"""

from __future__ import annotations

from pathlib import Path

DISCOVER_OUT = Path("results/discover")
DISCOVER_REPLICATES = 1
DISCOVER_SAMPLES = 64
DENSITY_TARGET = 0.8  # the box chosen: the first on the peeling trajectory this dense
