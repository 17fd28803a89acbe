"""Validation: run the targets' scenario (the market baseline) and score every target.

One row per target: its range, the replicate mean with a 95% CI, PASS or FAIL. ``run.py
validate`` prints the table and exits 1 when a target fails, so it can gate a change to the model.
"""

from __future__ import annotations

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
    per_run_values,
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
    """

    target: Target
    estimate: Estimate

    @property
    def passed(self) -> bool:
        """Whether the replicate mean lies in the target's range (the interval is not used)."""
        return self.target.passes(self.estimate.value)


def score(values: pd.DataFrame, targets: TargetSet) -> list[Row]:
    """Rows from per-run target values (one row per replicate, one column per target)."""
    return [Row(t, t.estimate(values[t.name].to_list())) for t in targets.targets]


def format_table(rows: list[Row], markdown: bool = False) -> str:
    """The validation table, aligned for a terminal or as a Markdown table."""
    header = ("target", "range", "simulated (95% CI)", "n", "result")
    body = []
    for r in rows:
        e, t = r.estimate, r.target
        ci = f"[{t.format(e.low)}, {t.format(e.high)}]" if e.n > 1 else "[n/a]"
        body.append((t.name, t.range_text(), f"{t.format(e.value)} {ci}", str(e.n),
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
    """Score a batch's long results table (one scenario, any number of replicates)."""
    return score(per_run_values(results, targets.targets, by=[]), targets)


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
    """Run the targets' scenario (resuming what is done) and score every target.

    Args:
        targets: The targets file.
        settings: Replicates (default 10), seed, steps, researchers, overrides.
        out: Where validation.md, validation.csv and the batch (``out/batch``) go.
        execution: Workers, scheduler, force, quiet.
        say: Where the opening line goes.

    Returns:
        The scored targets and the files written.
    """
    target_set = load_targets(targets)
    settings = settings or RunSettings(replicates=VALIDATE_REPLICATES)
    out = Path(out)
    with open_runner(target_set.scenario, settings, execution) as runner:
        if not runner.execution.quiet:
            say(
                f"validating {target_set.scenario} against {len(target_set.targets)} targets "
                f"({target_set.path.name}): {settings.replicates} replicates; "
                f"{runner.pool.description}"
            )
        results = run_points(runner, [{}], out / "batch")
    rows = validate(results, target_set)
    out.mkdir(parents=True, exist_ok=True)
    md, csv = out / "validation.md", out / "validation.csv"
    write_text(format_table(rows, markdown=True) + "\n", md)
    frame = pd.DataFrame(
        [
            {
                "target": r.target.name,
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
    write_text(frame.to_csv(index=False), csv)
    return Validation(rows, [md, csv])
