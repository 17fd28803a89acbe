"""Monthly metrics: one row per month, one column per dotted metric name.

Columns are named from the scenario's groups and lab kinds, so they split cleanly on dots:
``access.run.global_south``, ``capture.frontier_closed``, ``market.gpu_price``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simulation.releases import CLOSED

if TYPE_CHECKING:
    import pandas as pd

    from simulation.model import EcosystemModel
    from simulation.researchers import Outcome

TASKS = ("run", "finetune", "deploy")
# The headline metrics beyond access: the run summary prints them, plots draw them by default.
KEY_METRICS = (
    "capability.frontier",
    "capability.best_open",
    "capture.private",
    "market.gpu_price",
    "market.hosting_hhi",
    "stranded.deployments",
    "public.spend",
    "public.utilisation",
)


def metric_names(groups: list[str], lab_kinds: list[str]) -> list[str]:
    names = [f"access.{t}.{g}" for t in TASKS for g in groups]
    names += ["capability.frontier", "capability.best_open"]
    names += [f"capability.reached.{g}" for g in groups]
    names += [f"capture.{k}" for k in lab_kinds] + ["capture.private"]
    names += [f"downloads.{k}" for k in lab_kinds]
    names += [f"downloads.top_release.{k}" for k in lab_kinds]
    names += ["downloads.top_decile_share", "frontier.training_cost_usd"]
    names += [
        "market.gpu_price",
        "market.hosting_hhi",
        "stranded.deployments",
        "public.spend",
        "public.utilisation",
    ]
    return names


class MetricsCollector:
    """Columnar collector: appends one value per metric per month, builds a DataFrame at the end."""

    def __init__(self, model: EcosystemModel) -> None:
        self.model = model
        self.groups = list(model.config.groups)
        self.names = metric_names(self.groups, model.lab_kinds)
        self.columns: dict[str, list[float]] = {name: [] for name in self.names}
        self.steps: list[int] = []

    def collect(self, outcome: Outcome) -> None:
        row = self.measure(outcome)
        self.steps.append(self.model.month)
        for name in self.names:
            self.columns[name].append(row[name])

    def measure(self, o: Outcome) -> dict[str, float]:
        m = self.model
        res = m.researchers
        rel = m.releases.arrays()
        row: dict[str, float] = {}

        # Access: success at a task with a capable model (for deploy: the deployed model).
        deployed_rel = np.where(res.deployment >= 0, res.deployment, 0)
        deployed_cap = res._effective_capability(rel, deployed_rel)
        capable_deploy = o.deployed & (deployed_cap >= m.capable_threshold)
        success = {"run": o.capable, "finetune": o.finetuned & o.capable, "deploy": capable_deploy}
        counts = np.bincount(res.group, minlength=len(self.groups))
        for t in TASKS:
            per_group = np.bincount(res.group, weights=success[t], minlength=len(self.groups))
            for g, name in enumerate(self.groups):
                row[f"access.{t}.{name}"] = per_group[g] / counts[g] if counts[g] else np.nan

        # Capability.
        row["capability.frontier"] = m.frontier
        open_ok = rel["weights"] & ~rel["revoked"]
        row["capability.best_open"] = rel["capability"][open_ok].max() if open_ok.any() else np.nan
        used = np.nan_to_num(o.capability_used)
        reached = np.bincount(res.group, weights=used * o.ran, minlength=len(self.groups))
        ran = np.bincount(res.group, weights=o.ran, minlength=len(self.groups))
        for g, name in enumerate(self.groups):
            row[f"capability.reached.{name}"] = reached[g] / ran[g] if ran[g] else np.nan

        # Capture: cumulative absorbed community value by lab kind.
        absorbed = {k: 0.0 for k in m.lab_kinds}
        private = 0.0
        for lab in m.labs:
            absorbed[lab.kind] += lab.absorbed
            private += lab.absorbed_private
        total = sum(absorbed.values())
        for k in m.lab_kinds:
            row[f"capture.{k}"] = absorbed[k] / total if total > 0 else np.nan
        row["capture.private"] = private / total if total > 0 else np.nan

        # Downloads: researchers who ran a model with weights this month, by lab kind.
        r = np.where(res.choice >= 0, res.choice, 0)
        downloaded = o.ran & rel["weights"][r] & (rel["licence"][r] != CLOSED)
        kind_of_lab = np.array([m.lab_kinds.index(lab.kind) for lab in m.labs])
        by_kind = np.bincount(
            kind_of_lab[rel["lab"][r[downloaded]]], minlength=len(m.lab_kinds)
        ).astype(float)
        for i, k in enumerate(m.lab_kinds):
            row[f"downloads.{k}"] = by_kind[i] / by_kind.sum() if by_kind.sum() else np.nan
        # Release level (real-world scale): the top release of each kind, and how much of all
        # downloads the top tenth of the open-weight releases published so far takes.
        per_release = np.bincount(r[downloaded], minlength=len(rel["lab"])) * res.weight
        release_kind = kind_of_lab[rel["lab"]]
        for i, k in enumerate(m.lab_kinds):
            mine = per_release[release_kind == i]
            row[f"downloads.top_release.{k}"] = float(mine.max()) if mine.size else 0.0
        published = np.sort(per_release[rel["weights"] & (rel["licence"] != CLOSED)])[::-1]
        top = max(1, int(np.ceil(published.size / 10)))
        total = published.sum()
        row["downloads.top_decile_share"] = published[:top].sum() / total if total else np.nan
        row["frontier.training_cost_usd"] = (
            m.frontier_lab.training_cost if m.frontier_lab else np.nan
        )

        # Market.
        gpu = [m.hosters[i] for i in m.gpu_market_index]
        cap = np.array([h.capacity for h in gpu])
        price = np.array([h.price for h in gpu])
        row["market.gpu_price"] = float(price @ cap / cap.sum()) if cap.sum() > 0 else m.gpu_cost
        served = np.array([h.served for h in m.hosters])
        shares = served / served.sum() if served.sum() > 0 else served
        row["market.hosting_hhi"] = float((shares**2).sum())
        row["stranded.deployments"] = float(res.stranded.sum() * res.weight)

        inst = m.institution
        row["public.spend"] = inst.spent if inst is not None else 0.0
        row["public.utilisation"] = (
            inst.used / inst.available if inst is not None and inst.available > 0 else 0.0
        )
        return row

    def frame(self) -> pd.DataFrame:
        import pandas as pd  # noqa: PLC0415  (commands that only name metrics skip pandas)

        df = pd.DataFrame(self.columns)
        df.insert(0, "step", np.asarray(self.steps, dtype=np.int64))
        return df
