"""What researchers' tasks take: deployments that grow with their users, own hardware with
hours as well as memory, fine-tunes that persist.

Each test builds a small model from the real ``market`` scenario, changes one rule's setting
and checks that what the rule says moves the way it says.
"""

from __future__ import annotations

import pytest
from helpers import ONE_MODEL_WORLD, advance, make_model, one_size

from simulation.researchers import Researchers

# One 7B model, no own hardware, money enough for any deployment, and each simulated researcher
# standing for one real one (demand far below the hosters' capacity).
HOSTED_ONLY = {
    **ONE_MODEL_WORLD,
    **one_size(7.0),
    "groups.well_funded.hardware_none_share": 1.0,
    "groups.global_south.hardware_none_share": 1.0,
    "groups.well_funded.budget_median_usd": 1e6,
    "groups.global_south.budget_median_usd": 1e6,
    "groups.well_funded.budget_sigma": 0.0,
    "groups.global_south.budget_sigma": 0.0,
    "simulation.researchers_represented": 300.0,
}


def _hosted_gpu_hours(users: float) -> tuple[float, int]:
    """GPU-hours researchers bought in month 0, and how many deployed, at ``users`` each."""
    over = {**HOSTED_ONLY}
    for g in ("well_funded", "global_south"):
        over[f"groups.{g}.deploy_users_median"] = users
    m = make_model(overrides=over, n=300)
    m.researchers.deploy_users[:] = users  # everyone the same size
    m.step()
    return sum(h.served for h in m.hosters), int(m.researchers.outcome.deployed.sum())


def test_a_deployment_rents_more_gpus_for_more_users():
    few, deployed_few = _hosted_gpu_hours(2_000.0)
    many, deployed_many = _hosted_gpu_hours(1e7)
    assert deployed_few == deployed_many == 300  # everyone can pay either
    # 2,000 users fit one rented copy (730 GPU-hours); 1e7 users on 7B take 27 copies
    assert many - few > 300 * 25 * 730


def test_an_api_bills_a_deployment_by_use_other_hosters_by_the_copy():
    m = make_model(n=200)
    m.step()
    rel, needs = m.releases.arrays(), m.researchers.needs
    closed = ~rel["weights"]
    assert closed.any() and (needs.replica_hours[2][closed] == 0).all()
    assert (needs.replica_hours[2][~closed] >= m.config.tasks.deploy_hours_per_month).all()
    assert (needs.hours_per_user[2] > 0).all() and (needs.hours_per_user[:2] == 0).all()


def _own_hardware_world(share: float):
    """Everyone has 100 GB of own hardware (any task on the 7B model fits), money, and a
    deployment of 2,000 users (3.9 GPU-hours of work)."""
    over = {**HOSTED_ONLY, "tasks.own_hardware_share": share}
    m = make_model(overrides=over, n=300)
    m.researchers.hardware_gb[:] = 100.0
    m.researchers.deploy_users[:] = 2_000.0
    m.step()
    return m


def test_own_hardware_hours_are_shared_across_tasks_then_a_hoster_takes_over():
    roomy = _own_hardware_world(1.0)  # 912 GPU-hours a month: everything at home
    o = roomy.researchers.outcome
    assert o.ran.all() and o.deployed.all() and (roomy.researchers.deploy_host == -1).all()
    assert sum(h.served for h in roomy.hosters) == 0
    # 0.9 GPU-hours: the run (0.7) fits, the fine-tune (14) and the deployment go to hosters
    tight = _own_hardware_world(0.001)
    o = tight.researchers.outcome
    assert o.ran.all() and o.deployed.all() and (tight.researchers.deploy_host >= 0).all()
    assert sum(h.served for h in tight.hosters) > 0


def test_a_fine_tune_is_kept_without_paying_again_while_its_base_is_used():
    """One model, money for everything, fine-tunes that always succeed: everyone fine-tunes
    in the first month, and in the second keeps it without buying the GPU-hours again."""
    m = make_model(overrides={**HOSTED_ONLY, "adoption.review_probability": 0.0}, n=300)
    m.step()
    first = sum(h.served for h in m.hosters)
    assert m.researchers.outcome.finetuned.all()
    m.step()
    o = m.researchers.outcome
    assert o.finetuned.all()  # still counts: they use the fine-tune they keep
    fine_tunes = 300 * m.config.tasks.finetune_gpu_hours_per_b * 7.0  # 7B, one real each
    assert sum(h.served for h in m.hosters) == pytest.approx(first - fine_tunes, rel=0.01)


def test_only_a_new_base_is_fine_tuned_again(monkeypatch):
    asked = {}
    do_task = Researchers._do_task

    def spy(self, name, wants, *args, **kwargs):
        if name == "finetune":
            asked["wants"] = wants.copy()
        return do_task(self, name, wants, *args, **kwargs)

    monkeypatch.setattr(Researchers, "_do_task", spy)
    m = advance(make_model(n=800), 1)
    kept_total = changed_total = 0
    for _ in range(8):
        r = m.researchers
        held, before = r.finetuned_on.copy(), r.choice.copy()
        m.step()
        kept = (held >= 0) & (r.choice == held)
        assert not asked["wants"][kept].any()  # no second fine-tune of the same base
        assert r.outcome.finetuned[kept & r.outcome.ran].all()  # and it still counts
        changed = (held >= 0) & (r.choice != held) & (r.choice >= 0)
        # the old fine-tune is gone; they hold one of the new base only if they made it now
        assert (r.finetuned_on[changed] != held[changed]).all()
        assert asked["wants"][changed & (r.finetuned_on >= 0)].all()
        kept_total += int(kept.sum())
        changed_total += int((changed & (before != r.choice)).sum())
    assert kept_total > 0 and changed_total > 0


def test_kept_fine_tunes_raise_fine_tuning_access():
    """Against re-fine-tuning every month (every fine-tune dropped before the month), keeping
    them lets more well-funded researchers work with a fine-tune: a failed attempt (skill) is
    retried while a success lasts, and the money saved goes to other tasks."""

    def access(keep: bool) -> float:
        m = make_model(n=800)
        for _ in range(10):
            if not keep:
                m.researchers.finetuned_on[:] = -1
            m.step()
        return m.metrics.frame()["access.finetune.well_funded"].iloc[2:].mean()

    assert access(True) > access(False) + 0.05
