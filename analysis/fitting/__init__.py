"""Fitting the model to the world: stylized-fact targets, validation, calibration, sensitivity.

Modules: ``targets`` (the targets file, statistics, objective), ``points`` (design points through
the batch engine), ``validate``, ``calibrate`` and ``sensitivity``. The defaults below are light
to import, so the command line shows them without loading pandas or scipy.
"""

from __future__ import annotations

from pathlib import Path

from simulation.config import SCENARIO_DIR

TARGETS_FILE = SCENARIO_DIR / "calibration" / "targets.toml"
FITTED_FILE = SCENARIO_DIR / "calibration" / "fitted.toml"

VALIDATE_REPLICATES = 10
VALIDATE_OUT = Path("results/validation")

CALIBRATE_REPLICATES = 8
CALIBRATE_SEED = 1
CALIBRATE_BUDGET = 128
FIT_RESEARCHERS = 3000  # the fit's population: see docs/validation.md
CALIBRATE_OUT = Path("results/calibration")

SENSITIVITY_REPLICATES = 1
SENSITIVITY_OUT = Path("results/sensitivity")
