"""Validation: run the targets' scenarios and score every target on its own scenario's runs.

The scenarios are the file's ``[settings] scenario`` (the market baseline) and any a target
names. One row per target: its scenario, its range, the replicate mean with a 95% CI, PASS or
FAIL. ``run.py validate`` prints the table and exits 1 when a target fails, so it can gate a
change to the model.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.fitting import TARGETS_FILE, VALIDATE_OUT, VALIDATE_REPLICATES
from analysis.fitting.points import open_runner, run_points
from analysis.fitting.targets import (
    Estimate,
    Target,
    TargetSet,
    load_targets,
    scenario_label,
    target_values,
)
from simulation.batch.engine import Execution
from simulation.batch.plan import RunSettings
from simulation.files import write_text


@dataclass(frozen=True)
class Row:
    """One line of the validation table: a target and what the runs gave for it.

    Attributes:
        target: The target.
        estimate: The replicate mean with its 95% interval, in display units.
        scenario: The scenario whose runs it was scored on (its label in the results).
    """

    target: Target
    estimate: Estimate
    scenario: str

    @property
    def passed(self) -> bool:
        """Whether the replicate mean lies in the target's range (the interval is not used)."""
        return self.target.passes(self.estimate.value)


def score(values: pd.DataFrame, targets: TargetSet) -> list[Row]:
    """Rows from per-run target values (one row per replicate, one column per target)."""
    return [
        Row(t, t.estimate(values[t.name].to_list()),
            scenario_label(targets.scenario_of(t)))
        for t in targets.targets
    ]  # fmt: skip


def format_table(rows: list[Row], markdown: bool = False) -> str:
    """The validation table, aligned for a terminal or as a Markdown table."""
    header = ("target", "scenario", "range", "simulated (95% CI)", "n", "result")
    body = []
    for r in rows:
        e, t = r.estimate, r.target
        ci = f"[{t.format(e.low)}, {t.format(e.high)}]" if e.n > 1 else "[n/a]"
        body.append((t.name, r.scenario, t.range_text(), f"{t.format(e.value)} {ci}", str(e.n),
                     "PASS" if r.passed else "FAIL"))  # fmt: skip
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines)
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*row) for row in body]
    passed = sum(r.passed for r in rows)
    lines.append(f"{passed} of {len(rows)} targets pass")
    return "\n".join(lines)


def validate(results: pd.DataFrame, targets: TargetSet) -> list[Row]:
    """Score a batch's long results table: each target on its own scenario's runs."""
    return score(target_values(results, targets, by=[]), targets)


def table_frame(rows: list[Row]) -> pd.DataFrame:
    """The rows as validation.csv holds them: one per target, with its scenario and source."""
    return pd.DataFrame(
        [
            {
                "target": r.target.name,
                "scenario": r.scenario,
                "low": r.target.low,
                "high": r.target.high,
                "value": r.estimate.value,
                "ci_low": r.estimate.low,
                "ci_high": r.estimate.high,
                "replicates": r.estimate.n,
                "pass": r.passed,
                "source": r.target.source,
            }
            for r in rows
        ]
    )


@dataclass(frozen=True)
class Validation:
    """The scored targets and the files written.

    Attributes:
        rows: One per target: its range and the simulated estimate.
        files: validation.md and validation.csv.
    """

    rows: list[Row]
    files: list[Path]

    @property
    def passed(self) -> bool:
        """Whether every target passes."""
        return all(r.passed for r in self.rows)


def run_validation(
    targets: str | Path = TARGETS_FILE,
    settings: RunSettings | None = None,
    out: str | Path = VALIDATE_OUT,
    execution: Execution | None = None,
    say: Callable[[str], None] = print,
) -> Validation:
    """Run the targets' scenarios (resuming what is done) and score every target.

    Every scenario a target needs runs with the same settings (replicates, seeds, steps,
    researchers, overrides), in one batch.

    Args:
        targets: The targets file.
        settings: Replicates (default 10), seed, steps, researchers, overrides.
        out: Where validation.md, validation.csv and the batch (``out/batch``) go.
        execution: Workers, scheduler, force, quiet.
        say: Where the opening line goes (warnings go to stderr).

    Returns:
        The scored targets and the files written.
    """
    target_set = load_targets(targets)
    settings = settings or RunSettings(replicates=VALIDATE_REPLICATES)
    out = Path(out)
    scenarios = target_set.scenarios()
    with open_runner(scenarios, settings, execution) as runner:
        steps = {s: c.simulation.steps for s, c in runner.configs.items()}
        for line in target_set.outside_runs(steps):
            print(f"warning: {line}", file=sys.stderr)
        if not runner.execution.quiet:
            say(
                f"validating {', '.join(scenario_label(s) for s in scenarios)} against "
                f"{len(target_set.targets)} targets ({target_set.path.name}): "
                f"{settings.replicates} replicates; {runner.pool.description}"
            )
        results = run_points(runner, [{}], out / "batch")
    rows = validate(results, target_set)
    out.mkdir(parents=True, exist_ok=True)
    md, csv = out / "validation.md", out / "validation.csv"
    write_text(format_table(rows, markdown=True) + "\n", md)
    write_text(table_frame(rows).to_csv(index=False), csv)
    return Validation(rows, [md, csv])
