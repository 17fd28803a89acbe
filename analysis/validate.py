"""``run.py validate``: run the targets' scenario (the market baseline) and score every target.

Prints one row per target: its range, the replicate mean with a 95% CI, PASS or FAIL. Exit status
0 when every target passes, 1 otherwise, so the command can gate a change to the model.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.batch_points import command_line, run_points, runner_from_args
from analysis.targets import Estimate, Target, TargetSet, load_targets, per_run_values
from simulation.cli import parse_set

EXIT_FAIL = 1


@dataclass(frozen=True)
class Row:
    target: Target
    estimate: Estimate

    @property
    def passed(self) -> bool:
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


def cmd_validate(args: argparse.Namespace) -> int:
    targets = load_targets(args.targets)
    out: Path = args.out
    with runner_from_args(
        args, targets.scenario, quiet=args.quiet, fixed=parse_set(args.set)
    ) as runner:
        print(
            f"validating {targets.scenario} against {len(targets.targets)} targets "
            f"({targets.path.name}): {args.replicates} replicates; {runner.pool.description}",
            flush=True,
        )
        results = run_points(runner, [{}], out / "batch", command_line())
    rows = validate(results, targets)
    table = format_table(rows)
    out.mkdir(parents=True, exist_ok=True)
    (out / "validation.md").write_text(format_table(rows, markdown=True) + "\n")
    pd.DataFrame(
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
    ).to_csv(out / "validation.csv", index=False)
    print(table)
    print(f"wrote {out / 'validation.md'} and validation.csv; runs in {out / 'batch'}")
    return 0 if all(r.passed for r in rows) else EXIT_FAIL
