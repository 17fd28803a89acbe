"""Agent records: a fixed sample of researchers and every lab, month by month, that agree with
the metrics and change no draw of the model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import make_model

import simulation
from simulation.records import AgentRecorder, sample_researchers

FLAGS = ["ran", "finetuned", "deployed", "capable"]


def simulate(scenario="market", seed=5, months=12, n=600, record=None):
    config = simulation.load_scenario(scenario)
    return simulation.simulate(config, seed, months, n, record_agents=record)


def researchers_and_labs(agents) -> tuple[pd.DataFrame, pd.DataFrame]:
    df = agents.to_pandas()
    res = df[df.agent_type == "researcher"].astype({f: bool for f in FLAGS})
    return res, df[df.agent_type == "lab"]


@pytest.mark.parametrize("scenario", ["market", "outsourced_provision", "public_option"])
def test_recording_changes_no_metric(scenario):
    plain = simulate(scenario)
    recorded = simulate(scenario, record=100)
    assert plain.agents is None
    pd.testing.assert_frame_equal(plain.metrics, recorded.metrics, check_exact=True)
    config = simulation.load_scenario(scenario)
    metrics = simulation.run(config, seed=5, steps=12, researchers=600)
    pd.testing.assert_frame_equal(plain.metrics, metrics, check_exact=True)


def test_the_same_researchers_every_month_and_every_lab():
    result = simulate(record=100)
    res, labs = researchers_and_labs(result.agents)
    months = range(12)
    ids = [set(res[res.step == m].agent_id) for m in months]
    assert all(len(i) == 100 and i == ids[0] for i in ids)
    assert len(res) == 100 * 12
    n_labs = len(labs) // 12
    assert n_labs > 0 and len(labs) == n_labs * 12
    for _, month in labs.groupby("step"):
        assert month.agent_id.tolist() == list(range(n_labs))
    traits = res.groupby("agent_id")[["group", "language", "budget_usd"]].nunique()
    assert (traits == 1).all().all()  # the same people
    steps = result.agents.column("step").to_numpy()
    assert (np.diff(steps) >= 0).all()  # month by month


def test_the_sample_depends_on_the_seed_only_and_grows_by_adding():
    a, b = make_model(n=500, seed=3), make_model("public_option", n=500, seed=3)
    small, large = sample_researchers(a, 20), sample_researchers(a, 60)
    assert np.array_equal(small, sample_researchers(b, 20))  # any scenario, same seed
    assert set(small) <= set(large) and len(set(large)) == 60
    assert not np.array_equal(small, sample_researchers(make_model(n=500, seed=4), 20))
    assert np.array_equal(sample_researchers(a, 10**6), np.arange(500))  # more: everyone


@pytest.mark.parametrize("scenario", ["market", "outsourced_provision", "public_option"])
def test_records_of_everyone_add_up_to_the_metrics(scenario):
    result = simulate(scenario, months=18, n=500, record=10**6)
    m, (res, labs) = result.metrics, researchers_and_labs(result.agents)
    assert res.groupby("step").size().eq(500).all()
    for g, mine in res.groupby("group", observed=True):
        by_month = mine.groupby("step")
        np.testing.assert_allclose(by_month.capable.mean(), m[f"access.run.{g}"])
        api = (mine.capable & (mine.venue_run == "api")).groupby(mine.step).sum()
        np.testing.assert_allclose(api / by_month.capable.sum(), m[f"api_share.run.{g}"])
    for kind, mine in labs.groupby("lab_kind", observed=True):
        np.testing.assert_allclose(mine.groupby("step").income_usd.sum(), m[f"income.{kind}"])
        np.testing.assert_allclose(mine.groupby("step").absorbed.sum(), m[f"absorbed.{kind}"])
    # a task succeeded where it was done
    assert ((res.venue_run != "none") == res.ran).all()
    assert ((res.venue_deploy != "none") == res.deployed).all()
    assert (res.spent_usd <= res.budget_usd * (1 + 1e-9)).all() and (res.credit_usd >= 0).all()
    chose = res.release >= 0
    assert (res.release_lab[chose] >= 0).all() and res.release_lab_kind[chose].notna().all()


def test_credit_and_own_hardware_are_told_apart():
    res, _ = researchers_and_labs(simulate("outsourced_provision", record=10**6).agents)
    on_credit = res.venue_run == "credit"
    assert on_credit.any() and (res.credit_usd[on_credit] > 0).all()
    venues = res[["venue_run", "venue_finetune", "venue_deploy"]]
    assert (res.credit_usd[(venues != "credit").all(axis=1)] == 0).all()


def test_spend_is_the_budget_less_what_is_left(monkeypatch):
    from simulation.researchers import Researchers

    kept = []
    population = Researchers._population

    def keep(self, *args):
        kept.append(population(self, *args))
        return kept[-1]

    monkeypatch.setattr(Researchers, "_population", keep)
    model = make_model("outsourced_provision", n=400, seed=2)
    AgentRecorder(model, 400)
    for _ in range(6):
        model.step()
        res = model.researchers
        np.testing.assert_allclose(res.venues.spent, res.budget - kept[-1].budget, atol=1e-9)


def test_a_count_that_is_not_positive_is_refused():
    with pytest.raises(simulation.UsageError, match="record_agents: expected a whole number"):
        simulate(record=0)
    with pytest.raises(simulation.UsageError, match="record_agents"):
        simulate(record=2.5)
