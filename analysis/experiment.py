"""``run.py experiment NAME``: run the scenarios an experiment file needs as one batch, test
its claims, print the verdicts, and write verdicts.csv, verdicts.md and NAME.html into --out.

The batch goes through the batch machinery (``run.py batch``), so common random numbers,
--workers, resume after an interruption and provenance are the batch's own. Every claim,
scenario, metric and window is validated before the batch starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.claims import Claim, Experiment, load_experiment, resolve_window
from analysis.comparison import markdown_table
from analysis.derived import add_derived
from analysis.results import AnalysisError, Results, load_batch
from analysis.runs import EXIT_INTERRUPTED, batch_argv, batch_command
from analysis.stats import LEVEL
from analysis.units import fmt
from analysis.verdicts import evaluate

DEFAULT_REPLICATES = 10


@dataclass
class ExperimentResult:
    experiment: Experiment
    results: Results
    tests: pd.DataFrame
    claims: pd.DataFrame
    files: list[Path] = field(default_factory=list)
    batch_status: int = 0


def check_windows(experiment: Experiment, steps: int) -> None:
    """Every claim's windows fit in a run of ``steps`` months (before anything runs)."""
    for claim in experiment.claims:
        for side in (*claim.treatments, claim.baseline):
            try:
                resolve_window(side.window, steps)
            except ValueError as e:
                raise AnalysisError(f"claim {claim.id!r}, {side.describe()}: {e}") from None


def run_steps(experiment: Experiment, steps: int | None) -> int:
    """The months each run will have: --steps, else the shortest of the scenario configs."""
    if steps is not None:
        return steps
    from simulation.config import load_scenario  # noqa: PLC0415

    return min(load_scenario(experiment.source(s)).simulation.steps for s in experiment.scenarios)


def analyse(experiment: Experiment, results: Results) -> tuple[Results, pd.DataFrame, pd.DataFrame]:
    """Add the experiment's derived metrics and evaluate its claims on ``results``."""
    results = add_derived(results, experiment.derived)
    tests, claims = evaluate(results, experiment)
    return results, tests, claims


def run_experiment(
    name: str | Path,
    *,
    replicates: int = DEFAULT_REPLICATES,
    researchers: int | None = None,
    steps: int | None = None,
    out: Path | None = None,
    workers: int | None = None,
    seed: int = 0,
    force: bool = False,
    quiet: bool = False,
    say: Callable[[str], None] = print,
) -> ExperimentResult:
    """Validate, run (or resume) the batch, evaluate, write the outputs and say the verdicts."""
    experiment = load_experiment(name)
    out = Path(out) if out is not None else Path("results") / experiment.name
    check_windows(experiment, run_steps(experiment, steps))
    argv = batch_argv(
        [experiment.source(s) for s in experiment.scenarios],
        out,
        replicates=replicates,
        seed=seed,
        steps=steps,
        researchers=researchers,
        workers=workers,
        force=force,
        quiet=quiet,
    )
    status = batch_command(argv)
    if status == EXIT_INTERRUPTED:
        raise KeyboardInterrupt
    results, tests, claims = analyse(experiment, load_batch(out))
    outcome = ExperimentResult(experiment, results, tests, claims, batch_status=status)
    text = verdicts_markdown(outcome)
    outcome.files = write_outputs(outcome, out, text)
    say(text)
    if results.replicates < 2:
        say("note: with one replicate no interval exists, so every verdict is inconclusive")
    say("wrote " + ", ".join(str(p) for p in outcome.files))
    return outcome


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


def write_outputs(outcome: ExperimentResult, out: Path, text: str) -> list[Path]:
    from analysis.experiment_report import write_page  # noqa: PLC0415  (matplotlib)

    out.mkdir(parents=True, exist_ok=True)
    csv = out / "verdicts.csv"
    outcome.tests.to_csv(csv, index=False)
    md = out / "verdicts.md"
    md.write_text(text)
    return [csv, md, write_page(outcome, out)]
