"""Lab strategies: pre-train from scratch, continue pre-training an allowed base, adapt one.

One test (or a few) per rule of docs/ODD.md 7.1 "Strategies": each builds a small model from a
real scenario, sets up the situation (config overrides or agent state), lets the public lab
train and checks what the rule must do.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import advance, labs_of, make_model, train_now
from hypothesis import given, settings
from hypothesis import strategies as st

import simulation
from simulation.agents import STRATEGIES, continued_capability
from simulation.economy import params_from_compute
from simulation.metrics import metric_info
from simulation.releases import OPEN, RESTRICTED


def public_lab(strategy: str, overrides: dict | None = None, months: int = 0, n: int = 300):
    """A public_option model with its public lab on ``strategy``, after ``months``.

    In month 0 the public lab has neither money nor a model yet.
    """
    m = make_model("public_option", {"labs.public.strategy": strategy, **(overrides or {})}, n=n)
    advance(m, months)
    return m, labs_of(m, "public")[0]


def flagship(m, ids: np.ndarray) -> int:
    """The most capable release among ``ids``."""
    return int(ids[np.argmax(m.releases.capability[ids])])


# -- the continue rule -----------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(
    base=st.floats(min_value=-5.0, max_value=30.0),
    scratch=st.floats(min_value=-5.0, max_value=30.0),
)
def test_continued_capability_is_never_below_the_base_nor_scratch(base, scratch):
    k = continued_capability(base, scratch)
    assert k >= base and k >= scratch
    assert k <= max(base, scratch) + math.log10(2) + 1e-12  # effective compute adds: at most 2x
    assert k == pytest.approx(math.log10(10**base + 10**scratch))


def test_continued_capability_without_a_base_is_scratch():
    assert continued_capability(-math.inf, 7.0) == 7.0


def test_a_continued_model_beats_its_base_and_scratch_at_the_same_gpu_hours():
    m, lab = public_lab("continue")
    base = lab.allowed_base()
    assert base >= 0
    new = train_now(m, lab, budget=3e7)  # a run of the size its public money buys
    top = flagship(m, new)
    rel = m.releases.arrays()
    scratch = lab.potential_capability(lab.compute_gpu_hours, m.month)  # same GPU-hours
    assert rel["capability"][top] >= rel["capability"][base]
    assert rel["capability"][top] >= scratch
    assert rel["capability"][top] == pytest.approx(
        continued_capability(rel["capability"][base], scratch)
    )
    assert rel["params_b"][top] == rel["params_b"][base]  # the architecture is the base's
    assert rel["built_on"][new].tolist() == [base] * new.size
    assert lab.strategy == "continue" and lab.release_strategies[-1] == (m.month, "continue")
    assert lab.training_cost > 0 and lab.budget < 3e7  # it bought its GPU-hours


def test_continue_with_no_base_allowed_pretrains_from_scratch():
    no_open_lab = {"labs.nonprofit.count": 0, "labs.academic.count": 0}
    m, lab = public_lab("continue", no_open_lab)
    assert lab.allowed_base() == -1  # the restricted and closed models are not allowed
    new = train_now(m, lab, budget=3e7)
    top = flagship(m, new)
    assert lab.strategy == "scratch"
    assert m.releases.capability[top] == pytest.approx(
        lab.potential_capability(lab.compute_gpu_hours, m.month)
    )
    assert (m.releases.built_on[new] == -1).all()


# -- which bases are allowed -----------------------------------------------------------------
def test_continue_builds_only_on_the_licences_it_is_allowed():
    m, lab = public_lab("continue")
    rel = m.releases.arrays()
    with_weights = rel["weights"] & ~rel["revoked"] & ~rel["derivative"]
    best = np.flatnonzero(with_weights)[np.argmax(rel["capability"][with_weights])]
    assert rel["licence"][best] == RESTRICTED  # the best model with weights is Llama-like
    base = lab.allowed_base()
    assert rel["licence"][base] == OPEN and not rel["derivative"][base]
    fully_open = with_weights & (rel["licence"] == OPEN)
    assert rel["capability"][base] == rel["capability"][fully_open].max()
    new = train_now(m, lab, budget=3e7)
    assert (m.releases.built_on[new] == base).all()
    assert (m.releases.licence[new] == OPEN).all()  # its own licence on an open base


def test_a_family_on_a_restricted_base_is_restricted_and_revoked_with_it():
    m, lab = public_lab("continue", {"labs.public.base_licences": ["open", "restricted"]})
    base = lab.allowed_base()
    assert m.releases.licence[base] == RESTRICTED and not m.releases.irrevocable[base]
    lab.committed_until = m.month + 12  # its public contract makes its own terms irrevocable
    new = train_now(m, lab, budget=3e7)
    assert (m.releases.built_on[new] == base).all()
    assert (m.releases.licence[new] == RESTRICTED).all()  # never more open than its base
    assert not m.releases.irrevocable[new].any()  # its own commitment cannot bind the base
    owner = m.labs[int(m.releases.lab[base])]
    owner.revoke_licences()
    assert m.releases.revoked[base]
    assert m.releases.revoked[new].all()
    assert lab.allowed_base() not in set(new.tolist())  # nor is it a base any longer


def test_community_derivatives_and_revoked_releases_are_never_bases():
    m, lab = public_lab("adapt", {"labs.public.base_licences": ["open", "restricted"]}, months=12)
    rel = m.releases.arrays()
    assert rel["derivative"].any()
    base = lab.allowed_base()
    assert not rel["derivative"][base] and not rel["revoked"][base]
    m.labs[int(rel["lab"][base])].revoke_licences()
    assert m.releases.revoked[base]
    assert lab.allowed_base() != base


# -- adapt -----------------------------------------------------------------------------------
def test_adapt_gives_the_base_capability_and_the_trained_language_fit():
    m, lab = public_lab("adapt")
    base = lab.allowed_base()
    rel = m.releases.arrays()
    price = m.gpu_market_price
    new = train_now(m, lab, budget=1e8)
    top = flagship(m, new)
    after = m.releases.arrays()
    assert after["capability"][top] == rel["capability"][base]  # no gain
    assert after["params_b"][top] == rel["params_b"][base]
    trained = lab.trained_language_index()
    fit, base_fit = after["language_fit"][top], rel["language_fit"][base]
    target = m.config.capability.trained_language_fit
    assert trained and (fit[trained] == np.maximum(base_fit[trained], target)).all()
    others = np.setdiff1d(np.arange(fit.size), trained)
    assert (fit[others] == base_fit[others]).all()
    sizes = after["params_b"][new]
    hours = lab.spec.adapt_gpu_hours_per_b * sizes.sum()
    assert lab.compute_gpu_hours == pytest.approx(hours)
    assert lab.training_cost == pytest.approx(hours * price)  # a small run...
    assert lab.budget > 1e8 - 2 * hours * price  # ...and the rest stays saved
    assert lab.strategy == "adapt" and lab.last_release_month < 0  # no pre-training run


def test_adapt_repeats_only_when_a_clearly_better_base_appears():
    m, lab = public_lab("adapt", months=60)
    rel = m.releases.arrays()
    mine = np.flatnonzero((rel["lab"] == lab.index) & ~rel["derivative"])
    fams = np.unique(rel["family"][mine])
    assert len(fams) >= 3 and all(s == "adapt" for _, s in lab.release_strategies)
    best = [rel["capability"][mine][rel["family"][mine] == f].max() for f in fams]
    assert (np.diff(best) >= lab.spec.min_improvement - 1e-12).all()
    # it spends little of its public money: savings pile up
    assert lab.budget > 10 * lab.training_cost


# -- auto ------------------------------------------------------------------------------------
def auto_choice_by_rule(lab):
    """The plan the documented rule picks: among the plans that clear ``min_improvement``,
    the cheapest of those within ``min_improvement`` of the best language capability."""
    plans = [p for p in (lab.plan(s) for s in STRATEGIES) if p is not None]
    plans = [p for p in plans if p.capability >= lab.best_capability + lab.spec.min_improvement]
    if not plans:
        return None
    value = {id(p): lab.language_capability(p.capability, p.fit) for p in plans}
    top = max(value.values())
    near = [p for p in plans if value[id(p)] >= top - lab.spec.min_improvement]
    return min(near, key=lambda p: (p.money, -value[id(p)]))


def test_auto_continues_when_continuing_clearly_beats_adapting():
    m, lab = public_lab("auto")
    lab.budget, lab.last_release_month = 1e9, m.month - 100
    chosen = lab.choose_run()
    assert chosen.strategy == "continue"  # as good as scratch or better, at the same cost
    expected = auto_choice_by_rule(lab)
    assert (chosen.strategy, chosen.money) == (expected.strategy, expected.money)


def test_auto_adapts_while_its_next_pretraining_run_must_wait():
    m, lab = public_lab("auto")
    lab.budget = 1e9
    lab.last_release_month = m.month  # just released: no pre-training run for a while
    chosen = lab.choose_run()
    assert chosen.strategy == "adapt"
    assert chosen.money < 0.01 * lab.budget


def test_auto_adapts_when_its_money_adds_too_little_to_the_base():
    m, lab = public_lab("auto")
    lab.last_release_month = m.month - 100
    base = lab.allowed_base()
    lab.budget = 1e12
    adapt = lab.plan("adapt")
    lab.budget = 2 * adapt.money  # continuing spends 1.6x the adaptation, for little more
    cont = lab.plan("continue")
    assert cont.capability - m.releases.capability[base] < lab.spec.min_improvement
    chosen = lab.choose_run()
    assert chosen.strategy == "adapt"
    new = train_now(m, lab, budget=lab.budget)
    assert lab.strategy == "adapt" and m.releases.built_on[new[0]] == base


def test_a_continued_run_buys_at_least_an_adaptation():
    m, lab = public_lab("continue")
    lab.last_release_month = m.month - 100
    lab.budget = 1e12
    adapt = lab.plan("adapt")
    lab.budget = 1.2 * adapt.money  # 0.8 x 1.2 < 1: less than adapting the base would take
    assert lab.plan("continue") is None
    lab.budget = 1.3 * adapt.money
    assert lab.plan("continue").gpu_hours >= adapt.gpu_hours


def test_auto_pretrains_from_scratch_with_no_base_allowed():
    m, lab = public_lab("auto", {"labs.nonprofit.count": 0, "labs.academic.count": 0})
    lab.budget, lab.last_release_month = 1e9, m.month - 100
    assert lab.plan("adapt") is None
    assert lab.choose_run().strategy == "scratch"


def test_auto_follows_its_rule_month_after_month():
    m, lab = public_lab("auto")
    chosen_some = 0
    for _ in range(40):
        m.step()
        expected, chosen = auto_choice_by_rule(lab), lab.choose_run()
        assert (chosen is None) == (expected is None)
        if chosen is not None:
            assert (chosen.strategy, chosen.money) == (expected.strategy, expected.money)
            chosen_some += 1
    assert chosen_some
    assert {s for _, s in lab.release_strategies} >= {"continue", "adapt"}


# -- config and scratch ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("labs.public.strategy", "fork"),
        ("labs.public.base_licences", ["closed"]),
        ("labs.public.base_licences", []),
        ("labs.public.adapt_gpu_hours_per_b", -1.0),
    ],
)
def test_bad_strategy_settings_are_refused(key, value):
    with pytest.raises(simulation.ConfigError, match=key.replace(".", r"\.")):
        simulation.load_scenario("public_option", {key: value})


def test_every_kind_pretrains_from_scratch_unless_told_otherwise():
    config = simulation.load_scenario("public_option")
    assert {k: spec.strategy for k, spec in config.labs.items() if k != "public"} == {
        "frontier_closed": "scratch",
        "commercial_open": "scratch",
        "nonprofit": "scratch",
        "academic": "scratch",
    }


def test_a_strategy_for_a_kind_with_no_labs_changes_nothing():
    plain = simulation.run(simulation.load_scenario("market"), seed=3, steps=14, researchers=300)
    for strategy in ("continue", "adapt", "auto"):
        config = simulation.load_scenario("market", {"labs.public.strategy": strategy})
        df = simulation.run(config, seed=3, steps=14, researchers=300)
        assert df.equals(plain), strategy


def test_scratch_releases_follow_the_pretraining_rule():
    m, lab = public_lab("scratch", months=30)
    lab.run = None  # whatever it was training: the test's run instead
    rel = m.releases.arrays()
    assert {s for _, s in lab.release_strategies} == {"scratch"}
    assert (rel["built_on"][rel["lab"] == lab.index] == -1).all()
    new = train_now(m, lab, budget=1e9)
    top = flagship(m, new)
    h = lab.compute_gpu_hours
    assert m.releases.capability[top] == lab.potential_capability(h, m.month)
    assert m.releases.params_b[top] == params_from_compute(
        h, m.config.capability.flop_per_gpu_hour, lab.spec.tokens_per_param
    )


# -- the metric ------------------------------------------------------------------------------
def test_best_capability_per_kind_is_the_best_own_usable_release():
    m = make_model("public_option", {"labs.public.strategy": "continue"}, n=300)
    advance(m, 30)
    df = m.metrics.frame()
    assert np.isnan(df["capability.best.public"].iloc[0])  # no model before its first run
    rel = m.releases.arrays()
    kinds = np.array([lab.kind for lab in m.labs])[rel["lab"]]
    own = ~rel["revoked"] & ~rel["derivative"]
    for kind in m.lab_kinds:
        expected = rel["capability"][own & (kinds == kind)].max()
        assert df[f"capability.best.{kind}"].iloc[-1] == expected, kind
    unit, description = metric_info("capability.best.public")
    assert unit == "log10 effective GPU-hours" and "public" in description


def test_continuing_keeps_the_public_lab_at_least_as_capable_as_scratch():
    """The check of issue 13: averaged over seeds, continue >= scratch at month 71."""
    best = {}
    for strategy in ("scratch", "continue"):
        config = simulation.load_scenario("public_option", {"labs.public.strategy": strategy})
        runs = [simulation.run(config, seed=s, steps=72, researchers=500) for s in range(2)]
        best[strategy] = np.mean([df["capability.best.public"].iloc[-1] for df in runs])
    assert best["continue"] >= best["scratch"]
