"""``run.py list`` and ``run.py run``: the scenarios, and one run of one scenario."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from cli.options import add_record_agents, check_bounds, non_negative_int, parse_set, positive_int
from simulation.batch.plan import RunSettings
from simulation.config import Config, load_scenario, scenario_names, scenario_path
from simulation.errors import FailedRuns, UsageError
from simulation.files import check_writable_dir
from simulation.metrics import KEY_METRICS, TASKS


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``list`` and ``run`` to run.py's parser."""
    sub.add_parser("list", help="the scenarios with a one-line description each").set_defaults(
        func=cmd_list
    )
    p = sub.add_parser("run", help="run one scenario and write its metrics")
    p.set_defaults(func=cmd_run)
    p.add_argument("scenario", help="a name in scenarios/ or a path to a TOML file")
    p.add_argument("--seed", type=non_negative_int, default=0, help="default: 0")
    p.add_argument("--steps", type=positive_int, help="months to simulate (default: 120)")
    p.add_argument("--researchers", type=positive_int, help="population size (default: 10,000)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key")
    p.add_argument("--out", type=Path, help="write metrics.parquet and run.json here")
    add_record_agents(p, "--out DIR/agents.parquet (needs --out)")


def cmd_list(args: argparse.Namespace) -> int:
    """Print each scenario's name and description."""
    width = max(len(n) for n in scenario_names())
    for name in scenario_names():
        print(f"{name:<{width}}  {load_scenario(name).description}")
    return 0


def resolve(args: argparse.Namespace) -> Config:
    """The validated config, with --steps/--researchers folded in (a clash with --set refused)."""
    check_bounds(args)
    settings = RunSettings(steps=args.steps, researchers=args.researchers,
                           overrides=parse_set(args.set))  # fmt: skip
    return load_scenario(args.scenario, settings.fixed())


def cmd_run(args: argparse.Namespace) -> int:
    """Run one scenario, print its final month, and write it to --out."""
    from simulation.files import write_run  # noqa: PLC0415  (keeps `list` fast)
    from simulation.runner import simulate  # noqa: PLC0415

    config = resolve(args)
    record = args.record_agents
    if record is not None and args.out is None:
        raise UsageError("--record-agents: give --out DIR to write agents.parquet to")
    if args.out is not None:
        check_writable_dir(args.out)
    import simulation.model  # noqa: F401, PLC0415  (before the clock: "done in" is the run)

    steps, n = config.simulation.steps, config.simulation.researchers
    print(
        f"running {scenario_path(args.scenario).stem}: {n:,} researchers, {steps} months, "
        f"seed {args.seed}"
    )
    start = time.perf_counter()
    result = simulate(config, seed=args.seed, record_agents=record)
    df = result.metrics
    seconds = time.perf_counter() - start
    if args.out is not None:
        meta = {"scenario": str(args.scenario), "seed": args.seed, "seconds": round(seconds, 3)}
        meta["record_agents"] = record
        try:
            write_run(args.out, df, config, meta, result.agents)
        except OSError as e:  # checked before the run, so this is a full disk or the like
            reason = e.strerror or " ".join(str(e).split())
            raise FailedRuns(f"cannot write the run to {args.out} ({reason})") from None
    print(summary(df, config))
    wrote = "metrics.parquet, agents.parquet" if record is not None else "metrics.parquet"
    print(
        f"done in {seconds:.2f} s"
        + (f"; wrote {args.out}/{wrote} and run.json" if args.out else "")
    )
    return 0


def summary(df, config: Config) -> str:
    """The final month's key metrics as a small table."""
    last = df.iloc[-1]
    groups = list(config.groups)
    lines = [f"month {int(last['step'])}", f"{'':<22}" + "".join(f"{g:>14}" for g in groups)]
    for task in TASKS:
        lines.append(
            f"{'access.' + task:<22}" + "".join(_cell(last[f"access.{task}.{g}"]) for g in groups)
        )
    for key in KEY_METRICS:
        lines.append(f"{key:<22}{_cell(last[key])}")
    return "\n".join(lines)


def _cell(value: float) -> str:
    """A number in the summary table; "n/a" for a metric that does not apply (NaN)."""
    return f"{value:>14.3f}" if value == value else f"{'n/a':>14}"
