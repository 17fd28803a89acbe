"""Calibration: the search on a cheap objective, a tiny recovery from the model itself, and the
fitted values in use."""

from __future__ import annotations

import math
import tomllib

import numpy as np
import pytest

import simulation
from analysis.fitting.calibrate import (
    FITTED_FILE,
    Parameter,
    best,
    calibrate,
    parameters_from,
    round_sig,
    search,
)
from analysis.fitting.points import open_runner
from analysis.fitting.targets import Target, TargetSet, load_targets
from cli import main
from simulation.batch.engine import Execution
from simulation.batch.plan import RunSettings, replicate_seeds
from simulation.config import SCENARIO_DIR


def test_parameter_scales():
    p = Parameter(("k",), 10.0, 1000.0, log=True)
    assert p.from_unit(0.5) == pytest.approx(100.0)
    assert p.to_unit(100.0) == pytest.approx(0.5)
    q = Parameter(("a", "b"), 1.0, 3.0)
    assert q.overrides(q.from_unit(0.25)) == {"a": 1.5, "b": 1.5}
    assert round_sig(123456.0) == 123000.0


def test_search_finds_the_minimum_of_a_synthetic_objective():
    optimum = np.array([0.3, 0.7, 0.55])
    calls: list[int] = []

    def evaluate(round_, points):
        calls.append(len(points))
        return [(float(((u - optimum) ** 2).sum()), {}) for u in points]

    history = search(evaluate, dims=3, budget=120, seed=1)
    assert sum(calls) == 120 and len(calls) == 5  # the global design, then four rounds
    assert np.abs(best(history).unit - optimum).max() < 0.05
    again = search(evaluate, dims=3, budget=120, seed=1)
    assert np.array_equal(best(again).unit, best(history).unit)  # deterministic given the seed


TRUE = {
    "market.gpu_cost_decline_per_year": 0.15,
    "labs.frontier_closed.income_growth_per_year": 2.0,
}
TINY = {"replicates": 2, "seed": 3, "steps": 36, "researchers": 150}


def test_recovers_parameters_from_the_models_own_output(tmp_path):
    """Targets made from runs at known values; the fit (aiming at the targets' centres: margin
    0.5) must land within 0.04 (decline) and 0.25 (growth) of them, with 2 replicates, 150
    researchers, 36 months and 32 evaluations."""
    statistics = (
        Target("price", "growth", ("market.gpu_price",), None, None, "", report="change"),
        Target("cost", "growth", ("frontier.training_cost_usd",), None, None, ""),
    )
    config = simulation.load_scenario("market", TRUE)
    seeds = replicate_seeds(TINY["seed"], TINY["replicates"])
    runs = [simulation.run(config, seed=s, steps=36, researchers=150) for s in seeds]
    observed = {t.name: np.mean([t.per_run(r) for r in runs]) for t in statistics}
    targets = TargetSet(
        FITTED_FILE,
        "market",
        tuple(
            Target(t.name, "growth", t.metrics, t.to_shown(observed[t.name] - 0.02),
                   t.to_shown(observed[t.name] + 0.02), "model", report=t.report)
            for t in statistics
        ),
    )  # fmt: skip
    params = [
        Parameter(("market.gpu_cost_decline_per_year",), 0.05, 0.45),
        Parameter(("labs.frontier_closed.income_growth_per_year",), 1.5, 3.0),
    ]
    with open_runner("market", RunSettings(**TINY), Execution(workers=2)) as runner:
        fit = calibrate(runner, targets, params, budget=32, margin=0.5, out=tmp_path,
                        say=lambda _: None)  # fmt: skip
    assert fit.values["market.gpu_cost_decline_per_year"] == pytest.approx(0.15, abs=0.04)
    assert fit.values["labs.frontier_closed.income_growth_per_year"] == pytest.approx(2.0, abs=0.25)


def test_fitted_values_are_the_base_defaults():
    """base.toml takes each calibrated default from fitted.toml (run.py calibrate's output)."""
    fitted = tomllib.loads(FITTED_FILE.read_text())
    base = tomllib.loads((SCENARIO_DIR / "base.toml").read_text())
    for key, value in fitted["parameters"].items():
        node = base
        for part in key.split("."):
            node = node[part]
        assert math.isclose(node, value), key
    assert {"command", "date", "code_revision", "objective"} <= set(fitted["provenance"])
    names = {k for p in parameters_from(load_targets()) for k in p.keys}
    assert names == set(fitted["parameters"])


def test_calibrate_bad_parameter_is_one_line(tmp_path, capsys):
    original = load_targets().path.read_text()
    good, typo = 'keys = ["adoption.capability_weight"]', 'keys = ["adoption.capability_wieght"]'
    assert good in original
    text = original.replace(good, typo)
    path = tmp_path / "targets.toml"
    path.write_text(text)
    assert main(["calibrate", "--targets", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "capability_wieght" in err and err.count("\n") == 1
