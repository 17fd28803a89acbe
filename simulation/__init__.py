"""Agent-based simulation of the open-model AI ecosystem under public-AI governance modes."""

from simulation.config import Config, ConfigError, load_scenario, scenario_names
from simulation.errors import UsageError
from simulation.runner import run

__all__ = [
    "Config",
    "ConfigError",
    "EcosystemModel",
    "UsageError",
    "load_scenario",
    "run",
    "scenario_names",
]
__version__ = "0.1.0"


def __getattr__(name: str):
    """Import ``simulation.EcosystemModel`` on first use, not with the package.

    A command that only reads configs or coordinates a batch does not pay for importing Mesa
    and the compiled kernels.
    """
    if name == "EcosystemModel":
        from simulation.model import EcosystemModel  # noqa: PLC0415

        return EcosystemModel
    raise AttributeError(f"module 'simulation' has no attribute {name!r}")
