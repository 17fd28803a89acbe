"""Compare scenarios with a baseline, with 95% intervals across replicates.

Each metric at one month and over the final months, with 95% intervals across replicates and
paired differences from a baseline scenario.

The batch runs with common random numbers (the same replicate index has the same seed in every
scenario and sweep point), so differences are taken replicate by replicate within a sweep
point; their interval reflects policy, not seed noise shared by both scenarios.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.results.load import POINT, TASKS, AnalysisError, Results, format_value, from_frame
from analysis.results.stats import LEVEL, paired, t_interval
from analysis.results.units import fmt, unit
from analysis.results.window import FINAL_MONTHS
from simulation.files import write_text

COLUMNS = [
    "scenario",
    "metric",
    "window",
    "months",
    "n",
    "mean",
    "ci_low",
    "ci_high",
    "diff",
    "diff_low",
    "diff_high",
    "n_pairs",
]


@dataclass(frozen=True)
class Window:
    """A month range, inclusive; ``kind`` is "month" (one month) or "final" (the last months)."""

    kind: str
    first: int
    last: int

    @property
    def label(self) -> str:
        """The window as tables show it: ``month 119`` or ``months 108-119``."""
        if self.first == self.last:
            return f"month {self.last}"
        return f"months {self.first}-{self.last}"


def default_metrics(results: Results) -> list[str]:
    """The metrics compared when none are named: the outcomes the paper argues about.

    Access per task and group, then private capture, best open capability, GPU price, stranding
    and public spend, those the results have.
    """
    access = [f"access.{t}.{g}" for t in TASKS for g in results.groups]
    rest = [
        "capture.private",
        "capability.best_open",
        "market.gpu_price",
        "stranded.deployments",
        "public.spend",
    ]
    return [m for m in [*access, *rest] if m in results.metrics]


def default_baseline(results: Results) -> str:
    """The baseline when none is named: ``market`` if the batch has it, else its first scenario."""
    return "market" if "market" in results.scenarios else results.scenarios[0]


def windows(results: Results, month: int | None, final: int = FINAL_MONTHS) -> list[Window]:
    """The chosen month (default: the last) and the final ``final`` months of the run."""
    months = results.months
    last = months[-1]
    if month is None:
        month = last
    elif month not in months:
        raise AnalysisError(f"month {month} is not in the results (months {months[0]}..{last})")
    return [Window("month", month, month), Window("final", max(months[0], last - final + 1), last)]


def compare(
    results: Results | pd.DataFrame,
    baseline: str | None = None,
    month: int | None = None,
    metrics: list[str] | None = None,
    final: int = FINAL_MONTHS,
) -> pd.DataFrame:
    """Compare every scenario with the baseline, at one month and over the final months.

    One row per sweep point x metric x window x scenario: mean and 95% CI across replicates,
    and the difference from ``baseline`` (same sweep point) with its paired 95% CI. The
    baseline's own rows have NaN differences. With one replicate every interval is NaN.

    Args:
        results: The batch (or a long table, wrapped with ``from_frame``).
        baseline: Scenario to compare with (default: ``default_baseline``).
        month: The single month reported (default: the last).
        metrics: Metrics to compare (default: ``default_metrics``).
        final: Months in the final window.

    Returns:
        The table, with the baseline and replicate count in its ``attrs``.

    Raises:
        AnalysisError: An unknown baseline, metric or month, or no metric to compare.
    """
    if isinstance(results, pd.DataFrame):
        results = from_frame(results)
    baseline = results.check_scenario(baseline or default_baseline(results), "baseline")
    metrics = results.check_metrics(metrics or default_metrics(results))
    if not metrics:
        raise AnalysisError("no metrics to compare")
    order = [baseline, *(s for s in results.scenarios if s != baseline)]
    rows: list[dict] = []
    for window in windows(results, month, final):
        for metric in metrics:
            values = results.per_replicate(metric, window.first, window.last)
            for point in results.points:
                base = _replicates(values, baseline, point)
                for scenario in order:
                    mine = _replicates(values, scenario, point)
                    level = t_interval(mine)
                    diff = (
                        t_interval(paired(mine, base)) if scenario != baseline else t_interval([])
                    )
                    rows.append(
                        {
                            "scenario": scenario,
                            POINT: point,
                            "metric": metric,
                            "window": window.kind,
                            "months": window.label,
                            "n": level.n,
                            "mean": level.mean,
                            "ci_low": level.low,
                            "ci_high": level.high,
                            "diff": diff.mean,
                            "diff_low": diff.low,
                            "diff_high": diff.high,
                            "n_pairs": diff.n,
                        }
                    )
    table = pd.DataFrame(rows)
    for key in results.sweep_keys:  # the sweep values as columns, after the scenario
        table.insert(1, key, [results.sweep_values(p)[key] for p in table[POINT]])
    table["_p"] = table[POINT].map({p: i for i, p in enumerate(results.points)})
    table["_w"] = table["window"].map({"month": 0, "final": 1})
    table["_s"] = table["scenario"].map({s: i for i, s in enumerate(order)})
    table["_m"] = table["metric"].map({m: i for i, m in enumerate(metrics)})
    table = table.sort_values(["_p", "_m", "_w", "_s"], kind="stable")
    keep = ["scenario", *results.sweep_keys, *COLUMNS[1:]]
    out = table[keep].reset_index(drop=True)
    out.attrs.update(baseline=baseline, replicates=results.replicates)
    return out


def _replicates(values: pd.Series, scenario: str, point: str) -> pd.Series:
    """One scenario's per-replicate values at a sweep point, indexed by replicate."""
    try:
        return values.xs((scenario, point), level=("scenario", POINT))
    except KeyError:
        return pd.Series(dtype=float)


def _cell(mean: float, low: float, high: float, signed: bool = False) -> str:
    if pd.isna(mean):
        return "n/a"
    ci = "n/a" if pd.isna(low) else f"{fmt(low, signed)}, {fmt(high, signed)}"
    return f"{fmt(mean, signed)} [{ci}]"


@dataclass(frozen=True)
class Section:
    """One rendered table: a heading, column names and rows of cell texts."""

    heading: str
    header: list[str]
    rows: list[list[str]]


def explain(table: pd.DataFrame) -> list[str]:
    """The paragraphs that say how to read the comparison."""
    baseline = table.attrs.get("baseline", "")
    replicates = table.attrs.get("replicates", int(table["n"].max()))
    level = f"{LEVEL:.0%}"
    text = [
        f"Baseline: `{baseline}`. {replicates} replicate(s) per scenario and sweep point. "
        f"Cells: mean [{level} CI] across replicates (Student t). Differences from the baseline "
        f"are computed replicate by replicate (common random numbers) with a {level} t-interval "
        "of the paired differences."
    ]
    if replicates < 2:
        text.append(
            "With one replicate the confidence intervals are undefined (n/a): "
            "run the batch with --replicates 2 or more."
        )
    return text


def sections(table: pd.DataFrame) -> list[Section]:
    """The comparison as tables to render, one per metric (and sweep point).

    Scenarios are rows; the chosen month and the final-months mean stand side by side, each
    followed by its difference from the baseline.
    """
    baseline = table.attrs.get("baseline", "")
    sweep = [c for c in table.columns if c not in COLUMNS]
    month_label = table.loc[table["window"] == "month", "months"].iloc[0]
    final_label = table.loc[table["window"] == "final", "months"].iloc[0]
    header = [
        "scenario",
        month_label,
        f"Δ vs {baseline}",
        f"{final_label} (mean)",
        f"Δ vs {baseline}",
    ]
    where_of = (
        table[sweep].apply(lambda r: ", ".join(f"{k}={format_value(r[k])}" for k in sweep), axis=1)
        if sweep
        else pd.Series("", index=table.index)
    )
    out: list[Section] = []
    for (where, metric), part in table.groupby([where_of, "metric"], sort=False):
        u = unit(metric)
        heading = metric + (f" ({u})" if u else "") + (f" at {where}" if where else "")
        by = {w: part[part["window"] == w].set_index("scenario") for w in ("month", "final")}
        rows = []
        for scenario in by["month"].index:
            cells = [scenario]
            for w in ("month", "final"):
                r = by[w].loc[scenario]
                cells.append(_cell(r["mean"], r["ci_low"], r["ci_high"]))
                cells.append(
                    "baseline"
                    if scenario == baseline
                    else _cell(r["diff"], r["diff_low"], r["diff_high"], signed=True)
                )
            rows.append(cells)
        out.append(Section(heading, header, rows))
    return out


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table's lines: the header, the rule, then one line per row.

    Args:
        header: Column names.
        rows: Cell texts, one list per row.
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def compare_markdown(table: pd.DataFrame, title: str = "Policy comparison") -> str:
    """The comparison as Markdown (compare.md and the command's output)."""
    lines = [f"# {title}"]
    for paragraph in explain(table):
        lines += ["", paragraph]
    for s in sections(table):
        lines += ["", f"## {s.heading}", "", *markdown_table(s.header, s.rows)]
    return "\n".join(lines) + "\n"


def write_compare(
    results: Results,
    out: Path | None = None,
    baseline: str | None = None,
    month: int | None = None,
    metrics: list[str] | None = None,
) -> tuple[pd.DataFrame, str, list[Path]]:
    """Compare and write compare.csv and compare.md into ``out`` (default: the batch dir)."""
    table = compare(results, baseline=baseline, month=month, metrics=metrics)
    where = results.path.name if results.path is not None else "results"
    text = compare_markdown(table, title=f"Policy comparison: {where}")
    out = out or results.path
    written: list[Path] = []
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        csv = table.copy()
        for key in results.sweep_keys:  # lists (e.g. eligible groups) as JSON, not Python repr
            csv[key] = csv[key].map(format_value)
        write_text(csv.to_csv(index=False), out / "compare.csv")
        write_text(text, out / "compare.md")
        written = [out / "compare.csv", out / "compare.md"]
    return table, text, written
