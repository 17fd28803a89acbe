"""The model's Mesa DataCollector: every metric of a month computed once, kept by column.

Metric names and their order are :mod:`simulation.metrics`'s; this module measures them.
"""

from __future__ import annotations

import math
from operator import itemgetter
from typing import TYPE_CHECKING

import mesa
import numpy as np

from simulation.metrics import TASKS, metric_names
from simulation.releases import CLOSED, open_lag_months

if TYPE_CHECKING:
    import pandas as pd

    from simulation.model import EcosystemModel
    from simulation.researchers import Outcome


# Each money metric and the institution's attribute it reads.
MONEY = {
    "budget": "appropriated",
    "spend": "spent",
    "diverted": "diverted",
    "carried_over": "carried",
}


class MetricsCollector(mesa.DataCollector):
    """The model's Mesa DataCollector: all metrics of a month, computed once, by column.

    Each step the model calls ``collect(model)``, which computes every metric of the month
    in one pass (``measure``) and appends one value per metric. Mesa's tools read it as any
    DataCollector: ``get_model_vars_dataframe()`` has one column per metric, in the order
    ``simulation.run`` reports them, and ``mesa.batch_run`` finds ``model_vars`` and the
    collection times in ``_collection_steps``. ``frame()`` is the table ``simulation.run``
    returns. No agent-level data is collected.

    Attributes:
        model (EcosystemModel): The model measured.
        groups (list[str]): The researcher group names.
        names (list[str]): The metric names, in column order.
        model_reporters (dict[str, Callable]): For each metric, what picks its value out of
            the month's ``measure`` row (the metrics are never computed one by one).
        model_vars (dict[str, list[float]]): The collected values by metric name.
        steps (list[int]): The month (from 0) of each collected row.
        _collection_steps (list[float]): Mesa's time (``model.time``, 1.0 for the first
            month) at each collection, as Mesa's own DataCollector records it.
    """

    def __init__(self, model: EcosystemModel) -> None:
        """Prepare an empty column for every metric of ``model``'s scenario.

        Args:
            model: The model whose months are measured.
        """
        super().__init__()  # no reporters, empty records
        self.model = model
        self.groups = list(model.config.groups)
        self.languages = list(model.language_names)
        self.names = metric_names(
            self.groups, model.lab_kinds, [i.name for i in model.institutions], self.languages
        )
        # Every metric is read from the row measure() computes once a month, not by a reporter
        # of its own; the reporters also tell Mesa which model variables exist.
        self.model_reporters = {name: itemgetter(name) for name in self.names}
        self.model_vars: dict[str, list[float]] = {name: [] for name in self.names}
        self.steps: list[int] = []
        self._groups_of: np.ndarray | None = None  # researchers x groups, built on first use
        self._languages_of: np.ndarray | None = None  # researchers x languages, likewise
        self._speakers = np.zeros(0)  # researchers per language, with ``_languages_of``

    def _group_columns(self, group: np.ndarray) -> np.ndarray:
        """A researchers x groups 0/1 matrix: a product with it sums rows per group."""
        if self._groups_of is None or self._groups_of.shape[0] != group.size:
            self._groups_of = (group[:, None] == np.arange(len(self.groups))).astype(float)
        return self._groups_of

    def _language_columns(self, language: np.ndarray) -> np.ndarray:
        """A researchers x languages 0/1 matrix, as ``_group_columns``."""
        if self._languages_of is None or self._languages_of.shape[0] != language.size:
            codes = np.arange(len(self.languages))
            self._languages_of = (language[:, None] == codes).astype(float)
            self._speakers = self._languages_of.sum(axis=0)
        return self._languages_of

    @property
    def columns(self) -> dict[str, list[float]]:
        """The collected values by metric name (the same lists as ``model_vars``)."""
        return self.model_vars

    def collect(self, model: EcosystemModel) -> None:
        """Measure the month that ``model`` has just simulated and append one value per metric.

        The model calls this at the end of each step; calling it again appends the same month
        again, as with any Mesa DataCollector.

        Args:
            model: The model this collector belongs to, after its researchers have acted.

        Raises:
            ValueError: If ``model`` is another model or has not simulated a month yet.
        """
        if model is not self.model:
            raise ValueError("this collector measures the model it was created for")
        if model.outcome is None:
            raise ValueError("no month to measure: the model has not stepped yet")
        row = self.measure(model.outcome)
        self.steps.append(model.month)
        self._collection_steps.append(model.time)
        for name, reporter in self.model_reporters.items():
            self.model_vars[name].append(reporter(row))

    def measure(self, o: Outcome) -> dict[str, float]:
        """Compute every metric of the current month.

        Args:
            o: What the researchers did this month.

        Returns:
            One value per metric name.
        """
        m = self.model
        res = m.researchers
        rel = m.releases.arrays()
        row: dict[str, float] = {}

        # Access: success at a task with a capable model (for deploy: the deployed model), by
        # any route (own hardware, a hoster, a lab's API); the API's share of it on its own.
        deployed_rel = np.where(res.deployment >= 0, res.deployment, 0)
        deployed_cap = res._effective_capability(rel, deployed_rel)
        need = m.capable_thresholds  # per task
        capable_deploy = o.deployed & (deployed_cap >= need[2])
        capable_finetune = (
            o.finetuned & o.ran & (np.nan_to_num(o.capability_used, nan=-np.inf) >= need[1])
        )
        success = np.stack([o.capable, capable_finetune, capable_deploy])
        # one pass: per group, the successes by task, those through an API, and runs (0/1
        # counts, so the sums are exact in any order)
        rows = np.vstack([success, success & o.via_api, o.ran]).astype(float)
        by_group = rows @ self._group_columns(res.group)  # (rows, groups)
        counts = np.bincount(res.group, minlength=len(self.groups))
        for k, t in enumerate(TASKS):
            per_group, by_api = by_group[k], by_group[len(TASKS) + k]
            for g, name in enumerate(self.groups):
                row[f"access.{t}.{name}"] = per_group[g] / counts[g] if counts[g] else np.nan
                row[f"api_share.{t}.{name}"] = by_api[g] / per_group[g] if per_group[g] else np.nan
        languages = self._language_columns(res.language)
        by_language = rows[: len(TASKS)] @ languages  # (tasks, languages)
        speakers = self._speakers  # per language, researchers needing it (set with the columns)
        for k, t in enumerate(TASKS):
            for lg, name in enumerate(self.languages):
                row[f"access.{t}.language.{name}"] = (
                    by_language[k, lg] / speakers[lg] if speakers[lg] else np.nan
                )

        # Capability.
        row["capability.frontier"] = m.frontier
        open_ok = rel["weights"] & ~rel["revoked"] & ~rel["derivative"]  # labs' own models
        row["capability.best_open"] = rel["capability"][open_ok].max() if open_ok.any() else np.nan
        cap = m.config.capability
        trend = math.log10(cap.compute_growth_before_start * cap.algorithmic_efficiency_per_year)
        row["capability.open_lag_months"] = open_lag_months(rel, m.month, trend)
        used = np.nan_to_num(o.capability_used)
        reached = np.bincount(res.group, weights=used * o.ran, minlength=len(self.groups))
        ran = by_group[-1]
        for g, name in enumerate(self.groups):
            row[f"capability.reached.{name}"] = reached[g] / ran[g] if ran[g] else np.nan
        # Each kind's best own model so far (not the community's derivatives), still licensed.
        own = ~rel["revoked"] & ~rel["derivative"]
        kind_of_lab = np.array([m.lab_kinds.index(lab.kind) for lab in m.labs])
        release_kind = kind_of_lab[rel["lab"]]
        for i, k in enumerate(m.lab_kinds):
            mine = rel["capability"][own & (release_kind == i)]
            row[f"capability.best.{k}"] = float(mine.max()) if mine.size else np.nan

        # Capture: cumulative absorbed community value by lab kind, with the usage data their
        # APIs kept (always private).
        absorbed = {k: 0.0 for k in m.lab_kinds}
        private = 0.0
        for lab in m.labs:
            absorbed[lab.kind] += lab.absorbed + lab.api_data_value
            private += lab.absorbed_private + lab.api_data_value
        total = sum(absorbed.values())
        for k in m.lab_kinds:
            row[f"capture.{k}"] = absorbed[k] / total if total > 0 else np.nan
        row["capture.private"] = private / total if total > 0 else np.nan
        for k in m.lab_kinds:
            row[f"absorbed.{k}"] = absorbed[k]
        row["contributions.published_share"] = float(res.published_share)

        # Labs: who still releases weights, and the money they live on.
        for k in m.lab_kinds:
            mine = [lab for lab in m.labs if lab.kind == k]
            released = [lab for lab in mine if lab.release_ids]  # a lab with a model
            row[f"openness.{k}"] = (
                sum(lab.weights for lab in released) / len(released) if released else np.nan
            )
            row[f"income.{k}"] = float(sum(lab.income for lab in mine))
        row["economy.ai_spend"] = float(m.ai_spend)

        # Downloads: researchers who ran a model with weights this month, by lab kind.
        r = np.where(res.choice >= 0, res.choice, 0)
        downloaded = (
            o.ran & rel["weights"][r] & (rel["licence"][r] != CLOSED)
            if len(rel["lab"])
            else np.zeros(res.n, dtype=bool)  # nothing released yet
        )
        by_kind = np.bincount(
            kind_of_lab[rel["lab"][r[downloaded]]], minlength=len(m.lab_kinds)
        ).astype(float)
        for i, k in enumerate(m.lab_kinds):
            row[f"downloads.{k}"] = by_kind[i] / by_kind.sum() if by_kind.sum() else np.nan
        # Release level (real-world scale): the top release of each kind, and how much of all
        # downloads the top tenth of the open-weight releases published so far takes.
        per_release = np.bincount(r[downloaded], minlength=len(rel["lab"])) * res.weight
        for i, k in enumerate(m.lab_kinds):
            mine = per_release[release_kind == i]
            row[f"downloads.top_release.{k}"] = float(mine.max()) if mine.size else 0.0
        derivative = rel["derivative"]
        runs = per_release.sum()
        row["downloads.derivatives"] = per_release[derivative].sum() / runs if runs else np.nan
        # Hub downloads: runs, and fetches to evaluate a search find (the Hub counts both)
        pulls = per_release.copy()
        pulls[: res.tried.size] += res.tried * res.weight
        published = pulls[rel["weights"] & (rel["licence"] != CLOSED)]
        total = published.sum()
        decile = max(1, int(np.ceil(published.size * 0.1)))
        percentile = max(1, int(np.ceil(published.size * 0.01)))
        top = -np.partition(-published, decile - 1)[:decile] if published.size else published
        top1 = -np.partition(-top, percentile - 1)[:percentile] if top.size else top
        row["downloads.top_decile_share"] = top.sum() / total if total else np.nan
        row["downloads.top1pct_download_share"] = top1.sum() / total if total else np.nan
        row["downloads.zero_download_share"] = (
            float((published == 0).mean()) if published.size else np.nan
        )
        row["releases.derivatives"] = float(derivative.sum())
        row["frontier.training_cost_usd"] = float(m.frontier_cost)

        # Market.
        row["market.gpu_price"] = float(m.gpu_market_price)
        served = np.array([h.served for h in m.hosters])
        shares = served / served.sum() if served.sum() > 0 else served
        row["market.hosting_hhi"] = float((shares**2).sum())
        row["stranded.deployments"] = float(res.stranded.sum() * res.weight)

        every = {"": m.institutions, **{f".{i.name}": [i] for i in m.institutions}}
        for suffix, insts in every.items():  # totals, then each institution
            for money, attribute in MONEY.items():
                row[f"public.{money}{suffix}"] = float(sum(getattr(i, attribute) for i in insts))
            available = sum(i.available for i in insts)
            row[f"public.utilisation{suffix}"] = (  # undefined without an institution
                sum(i.used for i in insts) / available
                if available > 0
                else (0.0 if insts else np.nan)
            )
            compute = sum(i.compute_available for i in insts)
            row[f"public.compute_uptake{suffix}"] = (
                sum(i.compute_used for i in insts) / compute if compute > 0 else np.nan
            )
        return row

    def frame(self) -> pd.DataFrame:
        """The metrics table: a ``step`` column (the month, from 0), then one column per metric.

        Returns:
            One row per collected month.
        """
        import pandas as pd  # noqa: PLC0415  (commands that only name metrics skip pandas)

        df = pd.DataFrame(self.model_vars)
        df.insert(0, "step", np.asarray(self.steps, dtype=np.int64))
        return df
