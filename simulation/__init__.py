"""Agent-based simulation of the open-model AI ecosystem under public-AI governance modes.

The names below are imported on first use (PEP 562): ``import simulation`` costs nothing, so a
command that only coordinates a batch, or starts its workers early, does not pay for pydantic,
Mesa or the compiled kernels before it needs them.
"""

from __future__ import annotations

from simulation.lazy import lazy_exports

__version__ = "0.1.0"
_EXPORTS = {
    "Config": "simulation.config",
    "ConfigError": "simulation.config",
    "load_scenario": "simulation.config",
    "scenario_names": "simulation.config",
    "UsageError": "simulation.errors",
    "run": "simulation.runner",
    "simulate": "simulation.runner",
    "EcosystemModel": "simulation.model",
}
__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
