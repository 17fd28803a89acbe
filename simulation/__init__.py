"""Agent-based simulation of the open-model AI ecosystem under public-AI governance modes."""

from simulation.config import Config, ConfigError, load_scenario, scenario_names
from simulation.model import EcosystemModel
from simulation.runner import run

__all__ = ["Config", "ConfigError", "EcosystemModel", "load_scenario", "run", "scenario_names"]
__version__ = "0.1.0"
