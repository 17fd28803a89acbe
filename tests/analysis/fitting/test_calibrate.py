"""Calibration: the search on a cheap objective, a tiny recovery from the model itself, and the
fitted values in use."""

from __future__ import annotations

import math
import tomllib

import numpy as np
import pandas as pd
import pytest

import simulation
from analysis.fitting.calibrate import (
    FITTED_FILE,
    Fit,
    Parameter,
    best,
    calibrate,
    fitted_toml,
    parameters_from,
    point_scores,
    round_sig,
    search,
)
from analysis.fitting.points import open_runner, points_plan
from analysis.fitting.targets import Target, TargetSet, load_targets
from cli import main
from simulation.batch.engine import Execution
from simulation.batch.plan import RunSettings, replicate_seeds
from simulation.config import SCENARIO_DIR, ConfigError


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
    "economy.capability_elasticity": 0.12,
}
TINY = {"replicates": 2, "seed": 3, "steps": 36, "researchers": 150}


def test_recovers_parameters_from_the_models_own_output(tmp_path):
    """Targets made from runs at known values; the fit (aiming at the targets' centres: margin
    0.5) must land within 0.04 (decline) and 0.05 (spending elasticity) of them, with 2
    replicates, 150 researchers, 36 months and 32 evaluations."""
    statistics = (
        Target("price", "growth", ("market.gpu_price",), None, None, "", report="change"),
        Target("spend", "growth", ("economy.ai_spend",), None, None, ""),
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
        Parameter(("economy.capability_elasticity",), 0.05, 0.3),
    ]
    with open_runner("market", RunSettings(**TINY), Execution(workers=2)) as runner:
        fit = calibrate(runner, targets, params, budget=32, margin=0.5, out=tmp_path,
                        say=lambda _: None)  # fmt: skip
    assert fit.values["market.gpu_cost_decline_per_year"] == pytest.approx(0.15, abs=0.04)
    assert fit.values["economy.capability_elasticity"] == pytest.approx(0.12, abs=0.05)


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


def test_point_scores_read_each_target_from_its_scenario():
    """Two design points; the market runs move x one way, outsourced_provision the other."""
    rows = []
    for scenario, x in (("market", (0.1, 0.3)), ("outsourced_provision", (0.9, 0.4))):
        for point in (0, 1):
            for r in range(2):
                for step in range(12):
                    rows.append({"scenario": scenario, "point": point, "replicate": r,
                                 "step": step, "x": x[point]})  # fmt: skip
    targets = TargetSet(
        FITTED_FILE,
        "market",
        (
            Target("m", "mean", ("x",), None, 0.2, "t"),
            Target("op", "mean", ("x",), 0.5, None, "t", scenario="outsourced_provision"),
        ),
    )
    (first, d0), (second, d1) = point_scores(pd.DataFrame(rows), targets, margin=0.0)
    assert d0 == pytest.approx({"m": 0.1, "op": 0.9}) and first == 0  # both in range
    assert d1 == pytest.approx({"m": 0.3, "op": 0.4})
    assert second == pytest.approx((0.1 / 0.2) ** 2 + (0.1 / 0.5) ** 2)


def test_fitted_toml_records_each_targets_scenario():
    targets = TargetSet(
        FITTED_FILE,
        "market",
        (
            Target("m", "mean", ("x",), None, 0.2, "t"),
            Target("op", "mean", ("x",), 0.5, None, "t", scenario="outsourced_provision"),
        ),
    )
    fit = Fit({}, 0.0, {"m": 0.1, "op": 0.4}, [])
    text = fitted_toml(fit, targets, [], {"scenarios": ["market", "outsourced_provision"]})
    table = tomllib.loads(text)["targets"]
    assert table["m"] == {"scenario": "market", "value": 0.1, "range": "<= 0.200", "pass": True}
    assert table["op"]["scenario"] == "outsourced_provision" and table["op"]["pass"] is False


def test_parameters_are_checked_in_every_scenario_and_counts_stay_whole():
    targets = load_targets()
    calibration = {"parameter": [{"keys": ["public.contract_months"], "low": 12, "high": 48}]}
    (p,) = parameters_from(TargetSet(targets.path, "market", targets.targets, calibration))
    assert p.integer  # the config holds a count: 30.0 would be refused
    assert p.from_unit(0.5) == 30 and isinstance(p.from_unit(0.51), int)
    assert p.overrides(29.6) == {"public.contract_months": 30}
    bad = {"parameter": [{"keys": ["public.contract_months"], "low": -5, "high": 48}]}
    with pytest.raises(ConfigError, match="contract_months"):
        parameters_from(TargetSet(targets.path, "market", targets.targets, bad))


def test_one_plan_runs_every_scenario_with_shared_seeds():
    settings = RunSettings(replicates=2, steps=12, researchers=100)
    points = [{"adoption.popularity_weight": 0.3}, {"adoption.popularity_weight": 0.6}]
    single = points_plan(["market"], points, settings)
    both = points_plan(["market", "outsourced_provision"], points, settings)
    assert len(both.runs) == 2 * len(single.runs) == 8
    assert len({r.run_id for r in both.runs}) == 8
    assert list(both.scenarios) == ["market", "outsourced_provision"]
    by_scenario: dict[str, list[int]] = {}
    for r in both.runs:
        by_scenario.setdefault(r.point.scenario, []).append(r.seed)
    assert by_scenario["market"] == by_scenario["outsourced_provision"]  # common random numbers
    assert both.fingerprint != single.fingerprint
    assert single.runs[0].point.config["adoption"]["popularity_weight"] == 0.3
