"""EMA Workbench, imported only when discovery runs (it takes seconds: scikit-learn, altair).

A missing install is a one-line UsageError naming the extra to install, not a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import warnings
from types import ModuleType

from simulation.errors import UsageError

MISSING = "run.py discover needs the discover extra: pip install -e '.[discover]'"


def ema(module: str = "ema_workbench") -> ModuleType:
    """Import ``module`` of EMA Workbench, quietly (it warns that ipyparallel is missing).

    Args:
        module: ``ema_workbench`` or one of its sub-modules, e.g. ``ema_workbench.analysis.prim``.

    Raises:
        UsageError: EMA Workbench is not installed.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(module)
    except ImportError as e:
        raise UsageError(f"{MISSING} ({e})") from None


def installed() -> bool:
    """Whether EMA Workbench can be imported (without importing it: that takes seconds)."""
    return importlib.util.find_spec("ema_workbench") is not None


def require_ema() -> None:
    """Refuse at once, before anything runs or is written, when EMA Workbench is missing."""
    if not installed():
        raise UsageError(MISSING)
