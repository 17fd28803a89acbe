"""What ``run.py explore`` tells the page it serves: the start scenario, seed and sizes.

The page runs in the solara server's process, so the command hands these over in one
environment variable, as JSON. Light to import: ``run.py --help`` reads the defaults here.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

ENV = "OPEN_MODEL_EXPLORE"
DEFAULT_SCENARIO = "public_option"
DEFAULT_RESEARCHERS = 2_000  # small enough that a month of both runs takes ~10 ms
DEFAULT_STEPS = 120
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


@dataclass(frozen=True)
class Settings:
    """The page's start values.

    Attributes:
        scenario: The scenario selected when the page opens.
        seed: The seed of the scenario's run and of the baseline's.
        researchers: Simulated researchers in each run.
        steps: Months the page offers (the horizon of the plots).
    """

    scenario: str = DEFAULT_SCENARIO
    seed: int = 0
    researchers: int = DEFAULT_RESEARCHERS
    steps: int = DEFAULT_STEPS

    def to_env(self) -> dict[str, str]:
        """The environment entry that carries these settings to the server's process."""
        return {ENV: json.dumps(asdict(self))}

    @classmethod
    def from_env(cls) -> Settings:
        """The settings ``run.py explore`` passed, or the defaults (``solara run`` by hand)."""
        raw = os.environ.get(ENV)
        return cls(**json.loads(raw)) if raw else cls()
