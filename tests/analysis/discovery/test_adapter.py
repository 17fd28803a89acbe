"""The EMA Workbench adapter: experiments through EMA's own perform_experiments run the real
model, on the batch engine's replicate seeds, with the scenario as a lever."""

from __future__ import annotations

import numpy as np
import pytest

import simulation
from analysis.discovery.adapter import SCENARIO_LEVER, ema_model, ema_name, final_mean
from analysis.discovery.ema import ema
from simulation.batch.plan import replicate_seeds
from simulation.errors import UsageError

UNCERTAINTIES = {"market.gpu_price_usd_per_hour": (1.5, 4.0), "labs.nonprofit.count": (1, 4)}
SCENARIOS = ["market", "public_option"]
OUTCOME = "access.finetune.global_south"
TINY = {"steps": 12, "researchers": 200}


def experiments(seed: int):
    wb = ema()
    outcomes = [OUTCOME, final_mean("market.gpu_price", 3)]
    model = ema_model(SCENARIOS, UNCERTAINTIES, outcomes=outcomes, replications=2, seed=seed,
                      **TINY)  # fmt: skip
    policies = [wb.Sample(**{SCENARIO_LEVER: s}) for s in SCENARIOS]
    return wb.perform_experiments(model, scenarios=3, policies=policies,
                                  uncertainty_sampling_kwargs={"rng": 7})  # fmt: skip


@pytest.fixture(scope="module")
def first():
    return experiments(seed=5)


def test_experiments_run_the_model(first):
    frame, outcomes = first
    access = outcomes[ema_name(OUTCOME)]
    assert len(frame) == 6 and access.shape == (6,)  # 3 futures x 2 governance modes
    assert np.isfinite(access).all() and ((access >= 0) & (access <= 1)).all()
    assert np.isfinite(outcomes["market__gpu_price__last3"]).all()
    assert set(frame[SCENARIO_LEVER]) == set(SCENARIOS)
    assert frame["labs__nonprofit__count"].between(1, 4).all()


def test_same_seed_same_numbers_and_the_lever_changes_the_scenario(first):
    frame, outcomes = first
    again = experiments(seed=5)[1]
    assert np.array_equal(outcomes[ema_name(OUTCOME)], again[ema_name(OUTCOME)])
    by_mode = {s: outcomes[ema_name(OUTCOME)][(frame[SCENARIO_LEVER] == s).to_numpy()]
               for s in SCENARIOS}  # fmt: skip
    assert not np.allclose(by_mode["market"], by_mode["public_option"])


def test_replications_use_the_batch_engines_seeds(first):
    frame, outcomes = first
    row = frame.iloc[0]
    overrides = {"market.gpu_price_usd_per_hour": float(row["market__gpu_price_usd_per_hour"]),
                 "labs.nonprofit.count": int(row["labs__nonprofit__count"]),
                 "simulation.steps": 12, "simulation.researchers": 200}  # fmt: skip
    config = simulation.load_scenario(row[SCENARIO_LEVER], overrides)
    direct = [final_mean(OUTCOME)(simulation.run(config, s)) for s in replicate_seeds(5, 2)]
    assert outcomes[ema_name(OUTCOME)][0] == pytest.approx(np.mean(direct), abs=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"uncertainties": {"market.gpu_prce_usd_per_hour": (1, 2)}}, "gpu_prce_usd_per_hour"),
     ({"uncertainties": {"market.gpu_price_usd_per_hour": (2, 1)}}, "LOW must be below HIGH"),
     ({"outcomes": ["access.nope"]}, "not a metric"),
     ({"outcomes": []}, "give an outcome"),
     ({"levers": {"market.gpu_price_usd_per_hour": (1, 2)}}, "given twice")],
)  # fmt: skip
def test_bad_input_is_refused_up_front(kwargs, message):
    args = {"uncertainties": UNCERTAINTIES, "outcomes": [OUTCOME], **kwargs}
    with pytest.raises(UsageError, match=message):
        ema_model(SCENARIOS, **args, **TINY)
