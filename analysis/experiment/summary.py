"""An experiment's outcome and its verdicts as text: the Markdown the command prints and writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.experiment.claims import Claim, Experiment
from analysis.results.compare import markdown_table
from analysis.results.load import Results
from analysis.results.stats import LEVEL
from analysis.results.units import fmt
from simulation.batch.engine import BatchSummary


@dataclass
class ExperimentResult:
    """An experiment run and judged.

    Attributes:
        experiment: The experiment file, parsed.
        results: The batch's results with the experiment's derived metrics.
        tests: One row per test: effect, interval, finding, verdict.
        claims: One row per claim: its combined verdict.
        batch: What the batch holds (failed runs are listed there).
        files: What was written.
    """

    experiment: Experiment
    results: Results
    tests: pd.DataFrame
    claims: pd.DataFrame
    batch: BatchSummary | None = None
    files: list[Path] = field(default_factory=list)


def _scale(results: Results) -> str:
    meta = results.meta
    parts = [f"{results.replicates} replicates"]
    if meta.get("researchers"):
        parts.append(f"{meta['researchers']:,} researchers")
    parts.append(f"{results.months[-1] + 1} months")
    return ", ".join(parts)


def verdicts_markdown(outcome: ExperimentResult) -> str:
    """The verdicts and the numbers behind them, as Markdown (also the command's output)."""
    exp, tests, claims = outcome.experiment, outcome.tests, outcome.claims
    lines = [
        f"# Experiment: {exp.name}",
        "",
        f"{exp.description} ({_scale(outcome.results)}). Effects are treatment minus baseline, "
        f"paired by replicate (common random numbers), with {LEVEL:.0%} t-intervals; windows "
        "are the final 12 months unless stated. Verdict rules: see "
        f"{exp.path.name} or docs/analysis.md.",
        "",
        *markdown_table(
            ["claim", "verdict", "tests"],
            [[r.claim, f"**{r.verdict}**", r.tests] for r in claims.itertuples()],
        ),
    ]
    for claim in exp.claims:
        rows = tests[tests["claim"] == claim.id]
        verdict_ = claims.loc[claims["claim"] == claim.id, "verdict"].iloc[0]
        lines += [
            "",
            f"## {claim.id}: {verdict_}",
            "",
            f"*{claim.statement}* (combined: {_combine_text(claim)})",
            "",
            *markdown_table(TEST_HEADER, [test_cells(r) for r in rows.to_dict("records")]),
        ]
    return "\n".join(lines) + "\n"


TEST_HEADER = [
    "treatment",
    "baseline",
    "metric",
    "predicts (margin)",
    "treatment value",
    "baseline value",
    "effect [95% CI]",
    "finding",
    "verdict",
]


def test_cells(r: dict) -> list[str]:
    """One test's row of the verdict table, formatted for people.

    Shared by the Markdown table and the HTML page, so both show the same numbers.

    Args:
        r: A row of ``evaluate``'s tests table, as a dict.

    Returns:
        The cells, in the order of ``TEST_HEADER``.
    """
    low, high = fmt(r["low"], True), fmt(r["high"], True)
    return [
        r["treatment"],
        r["baseline"],
        r["metric"],
        f"{r['predicts']} ({r['margin']:g})",
        fmt(r["treatment_mean"]),
        fmt(r["baseline_mean"]),
        f"{fmt(r['effect'], True)} [{low}, {high}]",
        r["finding"],
        r["verdict"],
    ]


def _combine_text(claim: Claim) -> str:
    if claim.combine == "all":
        return "supported only if every test is; not supported if any test is not"
    return "supported if any test is; not supported only if every test is not"
