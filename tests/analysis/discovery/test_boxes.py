"""PRIM (EMA Workbench) finds a planted region, the box rule is the documented one, and the
questions without a box say so."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.discovery.boxes import (
    EVERYWHERE,
    FOUND,
    NOWHERE,
    Question,
    boxes_frame,
    choose_box,
    describe_box,
    find_box,
    trajectories_frame,
)
from analysis.discovery.sample import latin_hypercube
from analysis.fitting.sensitivity import Param

PARAMS = [Param("market.price", 1.0, 4.0), Param("groups.budget", 10.0, 200.0),
          Param("noise", 0.0, 1.0)]  # fmt: skip


@pytest.fixture(scope="module")
def design() -> pd.DataFrame:
    return latin_hypercube(PARAMS, 300, seed=1)


def test_prim_recovers_a_planted_box(design):
    cases = ((design["market.price"] > 2.5) & (design["groups.budget"] < 100)).to_numpy()
    box = find_box(design, PARAMS, Question("policy_fails", "policy fails", cases))
    assert box.status == FOUND
    assert box.stat("density") >= 0.8 and box.stat("coverage") >= 0.8
    limits = box.limits.set_index("parameter")
    assert limits.at["market.price", "low"] == pytest.approx(2.5, abs=0.25)
    assert limits.at["market.price", "high"] == 4.0  # a free side shows the sampled bound
    assert limits.at["groups.budget", "high"] == pytest.approx(100, abs=15)
    assert bool(limits.at["market.price", "restricted"]) and not limits.at["noise", "restricted"]
    assert limits.at["market.price", "qp_low"] < 0.05 and np.isnan(limits.at["noise", "qp_low"])
    assert np.isnan(limits.at["market.price", "qp_high"])
    text = describe_box(box)
    assert "market.price" in text and "noise" not in text and "coverage" in text


def test_the_chosen_box_is_the_widest_dense_one():
    trajectory = pd.DataFrame({"id": [0, 1, 2, 3], "coverage": [1.0, 0.95, 0.9, 0.5],
                               "density": [0.3, 0.7, 0.85, 0.99]})  # fmt: skip
    assert choose_box(trajectory, 0.8) == 2
    assert choose_box(trajectory, 0.995) == 3  # none dense enough: the densest
    ties = pd.DataFrame({"id": [0, 1, 2], "coverage": [0.4, 0.9, 0.6], "density": [0.7, 0.7, 0.6]})
    assert choose_box(ties, 0.95) == 1  # none dense enough, two densest: the higher coverage
    wide = pd.DataFrame({"id": [0, 1, 2], "coverage": [0.9, 0.9, 0.5], "density": [0.8, 0.85, 0.9]})
    assert choose_box(wide, 0.8) == 1  # two dense boxes equally wide: the denser


def test_no_case_and_all_cases_are_reported_not_crashed(design):
    nowhere = find_box(design, PARAMS, Question("policy_best", "p is best", np.zeros(300, bool)))
    everywhere = find_box(design, PARAMS, Question("policy_best", "p is best", np.ones(300, bool)))
    assert nowhere.status == NOWHERE and np.isnan(nowhere.stat("coverage"))
    assert everywhere.status == EVERYWHERE and everywhere.stat("density") == 1.0
    assert "no box" in describe_box(nowhere)
    frame = boxes_frame([nowhere, everywhere])
    assert {"coverage", "density", "mass", "qp_low", "qp_high", "low", "high"} <= set(frame)
    assert len(frame) == 2 * len(PARAMS) and list(frame["status"].unique()) == [NOWHERE, EVERYWHERE]
    assert trajectories_frame([nowhere]).empty


def test_the_page_draws_the_density_target_the_box_was_chosen_with(design, tmp_path, monkeypatch):
    from analysis.discovery import page, plots

    cases = (design["market.price"] > 2.5).to_numpy()
    box = find_box(design, PARAMS, Question("policy_fails", "policy fails", cases), 0.6)
    drawn = []

    def recording(box, ax, density_target=0.8):
        plots.plot_tradeoff(box, ax, density_target)
        drawn.append([tuple(line.get_ydata()) for line in ax.lines])

    monkeypatch.setattr(page, "plot_tradeoff", recording)
    page.box_html(box, tmp_path, 0.6)
    assert (0.6, 0.6) in drawn[0]  # the dashed target line, at the target actually used
