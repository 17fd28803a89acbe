"""Helpers shared by the tests: small models built from the real scenario files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import simulation

REPO = Path(__file__).resolve().parent.parent
GOVERNANCE = (
    "outsourced_provision",
    "networked_collaboration",
    "state_backed_integration",
    "public_option",
)
SIX = (*GOVERNANCE, "market", "regulation_only")

# One academic lab with one model (every researcher's only candidate), one price for all, and
# fine-tuning that succeeds whenever it is paid for.
ONE_MODEL_WORLD = {
    # one academic lab with one model: every researcher's only candidate
    "labs.frontier_closed.count": 0,
    "labs.commercial_open.count": 0,
    "labs.nonprofit.count": 0,
    "labs.academic.count": 1,
    "labs.academic.grant_usd_per_month": 0.0,
    # one price for all: no hoster taste, no friction; every hoster lists every model
    "market.hoster_taste_sigma": 0.0,
    "groups.global_south.commercial_price_friction": 1.0,
    "hosters.hyperscaler.max_listed": 1000,
    "hosters.specialty.max_listed": 1000,
    # no community derivatives: the one model stays the only one
    "contributions.derivatives": False,
    # fine-tuning succeeds whenever it is paid for
    "groups.well_funded.skill_mean": 0.999999,
    "groups.global_south.skill_mean": 0.999999,
    "groups.well_funded.skill_concentration": 1e6,
    "groups.global_south.skill_concentration": 1e6,
}


def one_size(params_b: float, kind: str = "academic") -> dict[str, Any]:
    """Overrides that give ``kind``'s starting model exactly ``params_b`` billion parameters
    and no distilled variants: the compute-optimal rule sizes it from its training compute, so
    the tokens per parameter are chosen to match."""
    gpu_hours, flop = 3e5, 1.2e18
    return {
        f"labs.{kind}.initial_training_gpu_hours": gpu_hours,
        f"labs.{kind}.tokens_per_param": gpu_hours * flop / (6 * (params_b * 1e9) ** 2),
        f"labs.{kind}.distilled_params_b": [],
        "capability.flop_per_gpu_hour": flop,
    }


def make_model(
    scenario: str = "market",
    overrides: dict[str, Any] | None = None,
    *,
    n: int = 400,
    seed: int = 0,
) -> simulation.EcosystemModel:
    """A model of ``scenario`` with dotted-key ``overrides``, ``n`` researchers and ``seed``."""
    config = simulation.load_scenario(scenario, overrides)
    return simulation.EcosystemModel(config, rng=seed, researchers=n)


def advance(model: simulation.EcosystemModel, months: int) -> simulation.EcosystemModel:
    for _ in range(months):
        model.step()
    return model


def lab_kind_of_release(model: simulation.EcosystemModel) -> np.ndarray:
    """The lab kind (name) of every release so far."""
    kinds = np.array([lab.kind for lab in model.labs])
    return kinds[model.releases.arrays()["lab"]]


def labs_of(model: simulation.EcosystemModel, kind: str) -> list:
    """The model's labs of one kind."""
    return [lab for lab in model.labs if lab.kind == kind]


# A synthetic batch table for the analysis tests: known means, intervals and paired effects.
T3 = 3.182446305284263  # Student t, 97.5% quantile, 3 degrees of freedom (tables)
BASE = np.array([0.10, 0.20, 0.30, 0.40])  # market, per replicate
DELTA = np.array([0.05, 0.07, 0.06, 0.10])  # public_option minus market, per replicate
MONTHS = 14  # so the final 12 months are 2..13


def synthetic(replicates: int = 4, months: int = MONTHS) -> pd.DataFrame:
    """Two scenarios x ``replicates`` x ``months``; access.finetune.global_south is
    BASE[r] + 0.01 * month in market and DELTA[r] higher in public_option; the other metrics
    are simple functions of scenario, replicate and month."""
    rows = []
    groups, kinds = ("well_funded", "global_south"), ("frontier_closed", "nonprofit", "public")
    for s, scenario in enumerate(("market", "public_option")):
        for r in range(replicates):
            for m in range(months):
                row = {"scenario": scenario, "replicate": r, "seed": 1000 + r, "step": m}
                for t, task in enumerate(("run", "finetune", "deploy")):
                    for g, group in enumerate(groups):
                        row[f"access.{task}.{group}"] = 0.9 - 0.3 * t - 0.4 * g + 0.01 * s
                row["access.finetune.global_south"] = BASE[r] + 0.01 * m + s * DELTA[r]
                shares = np.array([0.6 - 0.1 * s, 0.3, 0.1 + 0.1 * s])
                for k, kind in enumerate(kinds):
                    row[f"capture.{kind}"] = shares[k]
                    row[f"downloads.{kind}"] = shares[::-1][k]
                row["capture.private"] = 0.8 - 0.2 * s
                row["capability.frontier"] = 8 + 0.1 * m
                row["capability.best_open"] = 7 + 0.05 * m + 0.2 * s + 0.01 * r
                row["market.gpu_price"] = 3.0 - 0.05 * m
                row["stranded.deployments"] = 100.0 * r * (1 - s)
                row["public.spend"] = 2e7 * s
                rows.append(row)
    return pd.DataFrame(rows)


def train_now(model: simulation.EcosystemModel, lab, budget: float = 1e12) -> np.ndarray:
    """Give ``lab`` ``budget`` and let it train at once: start a run, buy every instalment
    at the market's price, release. Returns the ids of the releases it made."""
    lab.budget = budget
    lab.last_release_month = model.month - 100
    before = len(model.releases)
    lab.step()  # starts a run if the money buys a clearly better model
    while lab.run is not None and lab.run.months_left > 0:
        ask = lab.training_ask()
        lab.buy_training(ask / model.gpu_market_price, ask)
    lab.release_finished_run()
    return np.arange(before, len(model.releases))
