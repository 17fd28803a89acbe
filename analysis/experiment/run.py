"""Run an experiment and write its verdicts.

The scenarios an experiment file needs run as one batch; its claims are tested, and the verdicts
are said and written (verdicts.csv, verdicts.md and NAME.html in the output directory).

The batch goes through the batch engine, so common random numbers, workers, Dask, resume after an
interruption and provenance are the batch's own. Every claim, scenario, metric and window is
validated before the batch starts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from analysis.experiment.claims import Experiment, load_experiment, resolve_window
from analysis.experiment.summary import ExperimentResult, verdicts_markdown
from analysis.experiment.verdicts import evaluate
from analysis.results.derived import add_derived
from analysis.results.load import AnalysisError, Results, load_batch
from simulation.batch.engine import Execution, run_batch
from simulation.batch.plan import RunSettings, build_plan
from simulation.config import load_scenario
from simulation.files import write_text


def check_windows(experiment: Experiment, steps: int) -> list[str]:
    """Check, before anything runs, that runs of ``steps`` months can judge every claim.

    A window a claim sets on a side must fit (the claim asks about those months); of the
    experiment's windows, those that do not fit are skipped with a note, as long as one fits.

    Args:
        experiment: The claims.
        steps: Months in each run.

    Returns:
        One note per experiment window skipped.

    Raises:
        AnalysisError: A claim's own window does not fit, or no experiment window does.
    """
    for claim in experiment.claims:
        for side in claim.sides:
            if side.window is None:
                continue
            try:
                resolve_window(side.window, steps)
            except ValueError as e:
                raise AnalysisError(f"claim {claim.id!r}, {side.describe()}: {e}") from None
    try:
        return experiment.fitting_windows(steps)[1]
    except ValueError as e:
        raise AnalysisError(str(e)) from None


def run_steps(experiment: Experiment, settings: RunSettings) -> int:
    """The months each run will have: the shortest of the scenario configs, overrides applied."""
    fixed = settings.fixed()
    sources = [experiment.source(s) for s in experiment.scenarios]
    return min(load_scenario(s, fixed).simulation.steps for s in sources)


def analyse(experiment: Experiment, results: Results) -> tuple[Results, pd.DataFrame, pd.DataFrame]:
    """Add the experiment's derived metrics and evaluate its claims on ``results``."""
    results = add_derived(results, experiment.derived)
    tests, claims = evaluate(results, experiment)
    return results, tests, claims


def run_experiment(
    name: str | Path,
    settings: RunSettings | None = None,
    out: str | Path | None = None,
    execution: Execution | None = None,
    say: Callable[[str], None] = print,
) -> ExperimentResult:
    """Validate, run (or resume) the batch, evaluate, write the outputs and say the verdicts.

    Args:
        name: A name in scenarios/experiments/ or a path to an experiment TOML file.
        settings: Replicates, seed, steps, researchers and overrides of every run.
        out: The batch and report directory (default: results/NAME).
        execution: Workers, scheduler, force, quiet (quiet silences the batch, not verdicts).
        say: Where the verdicts and notes go.

    Returns:
        The experiment, its results, tests and verdicts, the batch summary and files written.
    """
    settings = settings or RunSettings(replicates=10)
    experiment = load_experiment(name)
    out = Path(out) if out is not None else Path("results") / experiment.name
    check_windows(experiment, run_steps(experiment, settings))  # skipped windows: in the text
    plan = build_plan([experiment.source(s) for s in experiment.scenarios], settings)
    batch = run_batch(plan, out, execution or Execution(quiet=False))
    results, tests, claims = analyse(experiment, load_batch(out))
    outcome = ExperimentResult(experiment, results, tests, claims, batch)
    text = verdicts_markdown(outcome)
    if batch.failed:  # said in the files too: a partial batch must not pass for a whole one
        shown = ", ".join(batch.failed[:5]) + (", ..." if len(batch.failed) > 5 else "")
        text += (
            f"\n**Note: {len(batch.failed)} of {batch.runs} runs failed** ({shown}); the verdicts "
            "use the runs that succeeded, paired replicates only. Rerun the command to retry "
            "the failed runs.\n"
        )
    outcome.files = write_outputs(outcome, out, text)
    say(text)
    if results.replicates < 2:
        say("note: with one replicate no interval exists, so every verdict is inconclusive")
    say("wrote " + ", ".join(str(p) for p in outcome.files))
    return outcome


def write_outputs(outcome: ExperimentResult, out: Path, text: str) -> list[Path]:
    """verdicts.csv, verdicts.md and the HTML page, in ``out``."""
    from analysis.experiment.page import write_page  # noqa: PLC0415  (matplotlib, on use)

    out.mkdir(parents=True, exist_ok=True)
    csv = out / "verdicts.csv"
    write_text(outcome.tests.to_csv(index=False), csv)
    md = out / "verdicts.md"
    write_text(text, md)
    return [csv, md, write_page(outcome, out)]
