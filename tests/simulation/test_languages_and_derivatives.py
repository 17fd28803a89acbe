"""Languages and community derivatives (docs/ODD.md 7.15): fit per language, what raises it,
derivative releases, the search that finds them and the Hub download metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import advance, labs_of, make_model

import simulation
from analysis.results.load import Results
from simulation.releases import RESTRICTED, ReleaseRegistry


def test_a_release_misses_a_language_by_its_gap_times_its_missing_fit():
    m = make_model(n=300)
    r = m.researchers
    rel = m.releases.arrays()
    ids = np.zeros(r.n, dtype=np.int64)  # everyone judges release 0
    got = r._effective_capability(rel, ids)
    gap = m.config.capability.language_penalty * np.array(
        [lang.resource_gap for lang in m.config.languages.values()]
    )
    want = rel["capability"][0] - gap[r.language] * (1 - rel["language_fit"][0, r.language])
    assert np.allclose(got, want)
    assert (got[r.language == 0] == rel["capability"][0]).all()  # high-resource: no loss
    low = m.language_names.index("low_resource")
    assert (got[r.language == low] < got[r.language == 0].min()).all()


def test_languages_follow_each_groups_shares():
    m = make_model(n=20_000)
    r = m.researchers
    for g, (name, spec) in enumerate(m.config.groups.items()):
        mine = r.language[r.group == g]
        for lang, share in spec.languages.items():
            got = np.mean(mine == m.language_names.index(lang))
            assert got == pytest.approx(share, abs=0.02), (name, lang)


def test_commons_language_data_raises_a_labs_next_fit_as_far_as_it_absorbs():
    m = make_model(n=200)
    lab = labs_of(m, "commercial_open")[0]
    before = lab.language_fit()
    m.language_data[:] = m.config.contributions.language_data_scale  # 1 - 1/e of the gap
    after = lab.language_fit()
    base = lab.spec.underserved_language_fit
    expected = base + (1 - base) * lab.spec.absorb_effort * (1 - math.exp(-1))
    assert before[0] == after[0] == 1.0  # a language every model serves
    assert np.allclose(before[1:], base) and np.allclose(after[1:], expected)


def test_training_for_languages_sets_their_fit_and_costs_capability():
    trained = make_model(overrides={"labs.academic.trained_languages": ["low_resource"]}, n=200)
    plain = make_model(n=200)
    a, b = labs_of(trained, "academic")[0], labs_of(plain, "academic")[0]
    low = trained.language_names.index("low_resource")
    assert a.language_fit()[low] == trained.config.capability.trained_language_fit
    assert b.language_fit()[low] == b.spec.underserved_language_fit
    share = trained.config.capability.language_training_share
    cost = b.potential_capability(1e6, 0) - a.potential_capability(1e6, 0)
    assert cost == pytest.approx(-math.log10(1 - share))


def test_unknown_or_mismatched_language_settings_are_refused():
    with pytest.raises(simulation.ConfigError, match="groups.global_south.languages"):
        simulation.load_scenario("market", {"groups.global_south.languages": {"klingon": 1.0}})
    with pytest.raises(simulation.ConfigError, match="sum to 1"):
        simulation.load_scenario(
            "market", {"groups.global_south.languages": {"high_resource": 0.5}}
        )
    with pytest.raises(simulation.ConfigError, match="trained_languages"):
        simulation.load_scenario("market", {"labs.academic.trained_languages": ["elvish"]})


def test_a_published_fine_tune_appears_next_month_as_a_derivative_of_its_base():
    m = advance(make_model(n=2000), 3)
    rel = m.releases.arrays()
    d = np.flatnonzero(rel["derivative"])
    assert d.size > 0
    base = rel["base"][d]
    assert (rel["lab"][d] == rel["lab"][base]).all()
    assert (rel["licence"][d] == rel["licence"][base]).all()
    assert (rel["params_b"][d] == rel["params_b"][base]).all()
    assert (rel["month"][d] >= 1).all() and (rel["month"][d] <= m.month).all()
    maker = rel["maker_language"][d]
    fit_d = rel["language_fit"][d, maker]
    fit_b = rel["language_fit"][base, maker]
    gain = m.config.contributions.derivative_language_gain
    assert np.allclose(fit_d, fit_b + (1 - fit_b) * gain)
    # the quality draw moves capability both ways, within what skill x Pareto allows
    delta = rel["capability"][d] - rel["capability"][base]
    assert (delta < 0).any() and (delta > 0).any()


def test_derivatives_off_publishes_none_and_a_revoked_base_revokes_its_derivatives():
    off = advance(make_model(overrides={"contributions.derivatives": False}, n=1000), 3)
    assert not off.releases.arrays()["derivative"].any()
    reg = ReleaseRegistry(languages=2)
    base = reg.add_family(0, 0, [7.0], [6.0], np.array([1.0, 0.3]), RESTRICTED, True, False)
    kids = reg.add_derivatives(
        np.array(base * 2), 1, np.array([1, 1]), np.array([[1.0, 0.5]] * 2), np.array([6.1, 5.9])
    )
    grandkid = reg.add_derivatives(
        np.array(kids[:1]), 2, np.array([1]), np.array([[1.0, 0.6]]), np.array([6.2])
    )
    other = reg.add_family(0, 2, [7.0], [6.0], np.array([1.0, 0.3]), RESTRICTED, True, False)
    assert reg.revoke(base) == base
    revoked = reg.arrays()["revoked"]
    assert revoked[kids].all() and revoked[grandkid].all()  # down the chain
    assert not revoked[other].any()
    with pytest.raises(ValueError, match="existing releases"):  # a base must precede it
        reg.add_derivatives(np.array([99]), 3, np.array([1]), np.array([[1.0, 0.6]]), [6.0])


def test_search_finds_only_releases_tagged_with_the_searchers_language():
    m = advance(make_model(n=2000), 8)
    r = m.researchers
    rel = m.releases.arrays()
    idx = np.arange(r.n)
    found = r._search(rel, idx)[:, 1:]
    ok = found >= 0
    assert ok.any()
    maker = rel["maker_language"][found[ok]]
    own = np.broadcast_to(r.language[idx][:, None], found.shape)[ok]
    assert ((maker < 0) | (maker == own)).all()
    assert not np.isin(found[ok], m.candidates).any()  # candidates are known, not searched


def test_search_favours_popular_releases():
    m = advance(make_model(n=2000), 8)
    r = m.researchers
    rel = m.releases.arrays()
    ok, _ = r._search_shelves(rel)
    shelf = np.flatnonzero(ok & (rel["maker_language"] < 0))  # findable by everyone
    assert shelf.size >= 2
    star = shelf[0]
    m.popularity[star] = 1e9  # one release everyone uses
    r._shelves_key = None  # popularity changed: rebuild the shelves
    found = r._search(rel, np.arange(r.n))[:, 1:]
    assert np.mean(found == star) > 0.9


def test_download_concentration_metrics_match_the_runs_and_fetches():
    m = advance(make_model(n=2000), 6)
    row = m.datacollector.measure(m.outcome)
    r, rel = m.researchers, m.releases.arrays()
    ran = m.outcome.ran & rel["weights"][np.maximum(r.choice, 0)]
    ran &= rel["licence"][np.maximum(r.choice, 0)] != 2
    pulls = np.bincount(r.choice[ran], minlength=len(rel["lab"])).astype(float)
    pulls[: r.tried.size] += r.tried
    published = pulls[rel["weights"] & (rel["licence"] != 2)]
    assert row["downloads.zero_download_share"] == pytest.approx(np.mean(published == 0))
    top = np.sort(published)[::-1]
    k = max(1, math.ceil(published.size * 0.01))
    assert row["downloads.top1pct_download_share"] == pytest.approx(top[:k].sum() / top.sum())


def test_language_access_columns_are_not_taken_for_groups():
    df = simulation.run(simulation.load_scenario("market"), seed=0, steps=2, researchers=200)
    frame = df.assign(scenario="market", replicate=0)
    res = Results(frame.assign(_point=""))
    assert res.groups == ["well_funded", "global_south"]
    assert res.languages == ["high_resource", "mid_resource", "low_resource"]
