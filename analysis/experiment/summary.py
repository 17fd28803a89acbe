"""An experiment's outcome and its verdicts as text: the Markdown the command prints and writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.experiment.claims import OWN, Claim, Experiment, window_phrase
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
    _, skipped = exp.fitting_windows(outcome.results.months[-1] + 1)
    lines = [
        f"# Experiment: {exp.name}",
        "",
        f"{exp.description} ({_scale(outcome.results)}). Effects are treatment minus baseline, "
        f"paired by replicate (common random numbers), with {LEVEL:.0%} t-intervals and the "
        "share of replicates beyond the margin in the predicted direction. "
        f"{windows_text(exp)} Verdict rules: see {exp.path.name} or docs/analysis.md.",
        *[f"\n**Note: {note}.**" for note in skipped],
        "",
        *markdown_table(
            ["claim", "window", "verdict", "tests"],
            [[r.claim, r.window, f"**{r.verdict}**", r.tests] for r in claims.itertuples()],
        ),
    ]
    for claim in exp.claims:
        rows = tests[tests["claim"] == claim.id]
        mine = claims[claims["claim"] == claim.id]
        verdicts = "; ".join(
            r.verdict if r.window == OWN else f"{r.window} {r.verdict}" for r in mine.itertuples()
        )
        lines += [
            "",
            f"## {claim.id}: {verdicts}",
            "",
            f"*{claim.statement}* (combined: {combine_text(claim)})",
            "",
            *markdown_table(TEST_HEADER, [test_cells(r) for r in rows.to_dict("records")]),
        ]
    return "\n".join(lines) + "\n"


def windows_text(exp: Experiment) -> str:
    """How windows work, in one sentence naming the experiment's windows."""
    named = ", ".join(f"{label} ({window_phrase(w)})" for label, w in exp.windows.items())
    return (
        f"Each claim is judged in each window, separately: {named}; a claim whose sides set "
        f'their own months is judged once, in window "{OWN}" (the table gives the months).'
    )


TEST_HEADER = [
    "window (months)",
    "treatment",
    "baseline",
    "metric",
    "predicts (margin)",
    "treatment value",
    "baseline value",
    "effect [95% CI]",
    "replicates beyond margin",
    "finding",
    "verdict",
]


def test_cells(r: dict) -> list[str]:
    """One test's row of the verdict table, formatted for people.

    Shared by the Markdown table and the HTML page, so both show the same numbers. A premise
    row's share counts the replicates within its margin.

    Args:
        r: A row of ``evaluate``'s tests table, as a dict.

    Returns:
        The cells, in the order of ``TEST_HEADER``.
    """
    low, high = fmt(r["low"], True), fmt(r["high"], True)
    predicts = r["predicts"] if r.get("role", "test") == "test" else f"premise: {r['predicts']}"
    return [
        f"{r['window']} ({r['months']})",
        r["treatment"],
        r["baseline"],
        r["metric"],
        f"{predicts} ({r['margin']:g})",
        fmt(r["treatment_mean"]),
        fmt(r["baseline_mean"]),
        f"{fmt(r['effect'], True)} [{low}, {high}]",
        share_text(r["share_beyond_margin"], r["n"]),
        r["finding"],
        r["verdict"],
    ]


def share_text(share: float, n: int) -> str:
    """E.g. "7/10 (70%)": the count shows how few replicates a share may rest on."""
    if n == 0 or share != share:  # NaN: no paired replicate
        return "n/a"
    return f"{round(share * n)}/{n} ({share:.0%})"


def combine_text(claim: Claim) -> str:
    """How a claim's tests combine into its verdict (in each window), in words."""
    if claim.combine == "all":
        text = "supported only if every test is; not supported if any one test is not"
    else:
        text = "supported if any test is; not supported only if every test is not"
    if claim.premises:
        text += "; a treatment whose premise is not met has its tests inconclusive"
    return text
