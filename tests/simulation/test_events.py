"""Scheduled events: price shocks and budget cuts.

One test (or a few) per mechanism of DESIGN.md "Mechanisms that must be present": each builds a
small model from a real scenario, sets up the situation (config overrides or agent state), steps
it and checks what the mechanism must do.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import advance, make_model


def test_a_price_shock_raises_the_gpu_price():
    shock = [{"month": 3, "type": "price_shock", "factor": 2.0}]
    calm = advance(make_model(n=300, seed=5), 6).metrics.frame()
    hit = advance(make_model(overrides={"events": shock}, n=300, seed=5), 6).metrics.frame()
    before, at = calm["market.gpu_price"], hit["market.gpu_price"]
    assert np.array_equal(before.iloc[:3], at.iloc[:3])
    # the month it hits, cost doubles and scarcity has not had a month to react yet
    assert at.iloc[3] == pytest.approx(2.0 * before.iloc[3])
    assert (at.iloc[3:] > before.iloc[3:]).all()


def test_a_budget_cut_lowers_public_spending():
    cut = [{"month": 3, "type": "budget_cut", "factor": 0.5}]
    full = advance(make_model("networked_collaboration", n=300), 6)
    m = advance(make_model("networked_collaboration", {"events": cut}, n=300), 6)
    a, b = full.metrics.frame()["public.spend"], m.metrics.frame()["public.spend"]
    assert np.array_equal(a.iloc[:3], b.iloc[:3])
    assert (b.iloc[3:] < a.iloc[3:]).all()
    budget = m.config.public.budget_usd_per_month
    assert m.institution.budget == pytest.approx(0.5 * budget)
    assert (m.metrics.frame()["public.budget"].iloc[3:] == 0.5 * budget).all()
    carried_in = m.metrics.frame()["public.carried_over"].shift(fill_value=0.0)
    assert (b.iloc[3:] <= 0.5 * budget * (1 + 1e-9) + carried_in.iloc[3:]).all()


def test_a_budget_cut_without_an_institution_changes_nothing():
    cut = [{"month": 1, "type": "budget_cut", "factor": 0.5}]
    a = advance(make_model(n=300), 3).metrics.frame()
    b = advance(make_model(overrides={"events": cut}, n=300), 3).metrics.frame()
    assert a.equals(b)
