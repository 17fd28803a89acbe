"""What "capable" means: within a gap of the frontier (relative), or what each task needs
(absolute), selectable per scenario (capability.requirement)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import advance, make_model

ABSOLUTE = {"capability.requirement": "absolute"}


def test_relative_by_default_the_same_bar_for_every_task():
    m = advance(make_model(n=200), 3)
    c = m.config.capability
    assert c.requirement == "relative"
    assert m.capable_thresholds == pytest.approx(np.full(3, m.standard - c.capable_gap))


def test_absolute_needs_rise_slowly_whatever_the_frontier_does():
    m = advance(make_model(overrides=ABSOLUTE, n=200), 24)
    c = m.config.capability
    need = np.array(c.required) + c.required_growth_per_year * m.month / 12
    assert m.capable_thresholds == pytest.approx(need)
    m.standard += 5.0  # a runaway frontier does not move what a task needs
    assert m.capable_thresholds == pytest.approx(need)


def _access_after_a_jump(overrides):
    """Run access in a month in which researchers perceive the frontier 3 decades higher."""
    out = []
    for jump in (0.0, 3.0):
        m = advance(make_model(overrides=overrides, n=400), 6)
        m.standard += jump
        m.step()
        out.append(m.metrics.frame()["access.run.well_funded"].iloc[-1])
    return out


def test_a_frontier_that_runs_ahead_lowers_access_only_under_the_relative_bar():
    calm, jumped = _access_after_a_jump({})
    assert jumped < calm - 0.3  # relative: the bar moved with the frontier
    calm, jumped = _access_after_a_jump(ABSOLUTE)
    assert jumped == pytest.approx(calm)  # absolute: what running needs did not change


def test_each_task_has_its_own_need():
    over = {**ABSOLUTE, "capability.required": [0.0, 0.0, 100.0]}  # nothing can be deployed
    m = advance(make_model(overrides=over, n=400), 6)
    row = m.metrics.frame().iloc[-1]
    assert row["access.deploy.well_funded"] == 0.0 and row["access.deploy.global_south"] == 0.0
    assert row["access.run.well_funded"] > 0.5 and row["access.finetune.well_funded"] > 0.1
