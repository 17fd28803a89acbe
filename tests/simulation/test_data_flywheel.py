"""Data flywheel: usage data accrues to whoever serves inference, or to a public commons.

One test (or a few) per mechanism of DESIGN.md "Mechanisms that must be present": each builds a
small model from a real scenario, sets up the situation (config overrides or agent state), steps
it and checks what the mechanism must do.
"""

from __future__ import annotations

import pytest
from helpers import advance, labs_of, make_model


def test_a_lab_serving_inference_collects_usage_data():
    m = advance(make_model(n=600), 6)
    by_owner = {}
    for h in m.hosters:
        if h.owner is not None:
            by_owner[h.owner.index] = by_owner.get(h.owner.index, 0.0) + h.data_gpu_hours
    assert any(v > 0 for v in by_owner.values())
    for lab in m.labs:
        assert lab.data_gpu_hours == pytest.approx(by_owner.get(lab.index, 0.0))
    no_api = [lab for lab in m.labs if lab.spec.api_capacity_gpu_hours_per_month == 0]
    assert no_api and all(lab.data_gpu_hours == 0 for lab in no_api)


def test_public_hoster_data_goes_to_the_commons_not_a_lab():
    """Usage data at the public hoster enters the commons (no data money and no give-back of
    open releases in this run, so all the commons' inflow is usage data) and never a lab's own
    flywheel."""
    split = {
        "public.stage_split.data": 0.0,
        "public.stage_split.inference": 0.3,
        "contributions.give_back": 0.0,
    }
    m = make_model("public_option", split, n=500)
    public_lab = labs_of(m, "public")[0]
    value = m.config.contributions.data_value_per_gpu_hour
    served = 0
    for _ in range(4):
        m.step()
        used = m.public_hoster.used
        served += used > 0
        assert m.commons_inflow == pytest.approx(used * value)
    assert served > 0
    assert public_lab.data_gpu_hours == 0


def test_without_a_data_commons_public_hoster_data_feeds_the_funded_lab():
    m = make_model("public_option", {"public.data_commons": False}, n=500)
    public_lab = labs_of(m, "public")[0]
    m.step()
    assert m.public_hoster.used > 0
    assert m.commons_inflow == 0
    assert public_lab.data_gpu_hours >= m.public_hoster.used


def test_a_captured_institution_stops_feeding_the_commons():
    m = make_model("public_option", {"public.capture_risk": 1.0}, n=500)
    m.step()
    assert m.institution.captured
    assert m.commons_inflow == 0
    assert labs_of(m, "public")[0].data_gpu_hours > 0
