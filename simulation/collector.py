"""The model's Mesa DataCollector: every metric of a month computed once, kept by column.

Metric names and their order are :mod:`simulation.metrics`'s; this module measures them.
"""

from __future__ import annotations

import math
from operator import itemgetter
from typing import TYPE_CHECKING, NamedTuple

import mesa
import numpy as np
from numba import njit

from simulation.kernels import felt_capability
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
        # the labs are fixed at the start: each one's kind as an index into ``lab_kinds``
        self.kind_of_lab = np.array([model.lab_kinds.index(lab.kind) for lab in model.labs])

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
        # One compiled pass over the researchers tallies them (``tally_researchers``).
        month = MonthRecord(
            o.ran,
            o.finetuned,
            o.deployed,
            o.capable,
            o.via_api,
            o.capability_used,
            res.group,
            res.language,
            res.deployment,
            res.choice,
        )
        by_group, by_language, counts, speakers, reached, release_runs = tally_researchers(
            month,
            rel["capability"],
            rel["language_fit"],
            rel["weights"] & (rel["licence"] != CLOSED),
            m.language_gap,
            m.capable_thresholds,
            len(self.groups),
        )
        for k, t in enumerate(TASKS):
            per_group, by_api = by_group[k], by_group[len(TASKS) + k]
            for g, name in enumerate(self.groups):
                row[f"access.{t}.{name}"] = per_group[g] / counts[g] if counts[g] else np.nan
                row[f"api_share.{t}.{name}"] = by_api[g] / per_group[g] if per_group[g] else np.nan
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
        ran = by_group[-1]
        for g, name in enumerate(self.groups):
            row[f"capability.reached.{name}"] = reached[g] / ran[g] if ran[g] else np.nan
        # Each kind's best own model so far (not the community's derivatives), still licensed.
        own = ~rel["revoked"] & ~rel["derivative"]
        release_kind = self.kind_of_lab[rel["lab"]]
        best = best_by_kind(rel["capability"], release_kind, own, len(m.lab_kinds))
        for i, k in enumerate(m.lab_kinds):
            row[f"capability.best.{k}"] = float(best[i])

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
        by_kind = np.bincount(release_kind, weights=release_runs, minlength=len(m.lab_kinds))
        all_kinds = by_kind.sum()
        for i, k in enumerate(m.lab_kinds):
            row[f"downloads.{k}"] = by_kind[i] / all_kinds if all_kinds else np.nan
        # Release level (real-world scale): the top release of each kind, and how much of all
        # downloads the top tenth of the open-weight releases published so far takes.
        per_release = release_runs * res.weight
        top_release = np.zeros(len(m.lab_kinds))  # 0 for a kind without releases
        np.maximum.at(top_release, release_kind, per_release)
        for i, k in enumerate(m.lab_kinds):
            row[f"downloads.top_release.{k}"] = float(top_release[i])
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
            np.count_nonzero(published == 0) / published.size if published.size else np.nan
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


_LARGEST = float(np.finfo(np.float64).max)


class MonthRecord(NamedTuple):
    """What each researcher did this month and who they are: what the tallies read."""

    ran: np.ndarray  # bool
    finetuned: np.ndarray  # bool
    deployed: np.ndarray  # bool
    capable: np.ndarray  # bool: ran a capable model
    via_api: np.ndarray  # (tasks, researchers) bool
    capability_used: np.ndarray  # capability of the model run (NaN: none)
    group: np.ndarray  # int64
    language: np.ndarray  # int64
    deployment: np.ndarray  # int64 release deployed (-1: none)
    choice: np.ndarray  # int64 release chosen (-1: none)


@njit(cache=True)
def best_by_kind(value: np.ndarray, kind: np.ndarray, mask: np.ndarray, n_kinds: int) -> np.ndarray:
    """Per kind, the largest ``value`` among the entries in ``mask`` of that kind (nan: none).

    One pass for every kind, instead of a masked copy per kind.
    """
    best = np.full(n_kinds, np.nan)
    for r in range(value.size):
        k = kind[r]
        if mask[r] and (np.isnan(best[k]) or value[r] > best[k]):
            best[k] = value[r]
    return best


@njit(cache=True)
def _nan_to_num(x: float, nan: float) -> float:
    """``np.nan_to_num`` of one value: NaN -> ``nan``, infinities -> the largest floats."""
    if np.isnan(x):
        return nan
    if np.isinf(x):
        return _LARGEST if x > 0 else -_LARGEST
    return x


@njit(cache=True)
def tally_researchers(
    month: MonthRecord,
    capability: np.ndarray,
    language_fit: np.ndarray,
    downloadable: np.ndarray,
    language_gap: np.ndarray,
    need: np.ndarray,
    n_groups: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The month's per-researcher counts and sums, in one pass over the researchers.

    Success at a task is with a capable model (``need``, per task; for deploy: the model
    deployed, at its effective capability for the researcher's language).

    Args:
        month: the researchers' month.
        capability: per release, its capability.
        language_fit: (releases, languages) its fit per language.
        downloadable: per release, weights that may be downloaded (not API-only).
        language_gap: per language, capability lost by a release with no fit.
        need: (tasks,) capability a model needs to count as capable.
        n_groups: researcher groups.

    Returns:
        Per group: successes by task, those through an API, and runs (7 rows); per language:
        successes by task (3 rows); researchers per group and per language; per group, the
        sum of the capability run (the order ``np.bincount`` adds it in); per release, runs
        of downloaded weights.
    """
    n_tasks, n_languages = 3, language_gap.size
    by_group = np.zeros((2 * n_tasks + 1, n_groups))
    by_language = np.zeros((n_tasks, n_languages))
    counts = np.zeros(n_groups, dtype=np.int64)
    speakers = np.zeros(n_languages)
    reached = np.zeros(n_groups)
    runs = np.zeros(capability.size, dtype=np.int64)
    success = np.zeros(n_tasks, dtype=np.bool_)
    for i in range(month.group.size):
        g, lg, ran = month.group[i], month.language[i], month.ran[i]
        counts[g] += 1
        speakers[lg] += 1.0
        used = month.capability_used[i]
        success[0] = month.capable[i]
        success[1] = month.finetuned[i] and ran and _nan_to_num(used, -np.inf) >= need[1]
        success[2] = False
        if month.deployed[i]:
            d = max(month.deployment[i], 0)
            deployed_cap = -np.inf  # nothing released yet
            if capability.size:
                deployed_cap = felt_capability(capability[d], language_gap[lg], language_fit[d, lg])
            success[2] = deployed_cap >= need[2]
        for t in range(n_tasks):
            if success[t]:
                by_group[t, g] += 1.0
                by_language[t, lg] += 1.0
                if month.via_api[t, i]:
                    by_group[n_tasks + t, g] += 1.0
        if ran:
            by_group[2 * n_tasks, g] += 1.0
        reached[g] += _nan_to_num(used, 0.0) * (1.0 if ran else 0.0)
        r = max(month.choice[i], 0)
        if ran and capability.size and downloadable[r]:
            runs[r] += 1
    return by_group, by_language, counts, speakers, reached, runs
