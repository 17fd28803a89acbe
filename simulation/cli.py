"""Command line of the open-model ecosystem simulation: scenarios, batches and their analysis.

``list`` and ``run`` live here; ``batch`` in simulation.batch; ``compare``, ``plot``, ``report``,
``experiment``, ``validate``, ``calibrate`` and ``sensitivity`` in analysis/.

Every user error (bad scenario, bad option, unwritable output) is one line on stderr and exit
code 2, checked before anything is written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

from simulation.config import ConfigError, load_scenario, scenario_names, scenario_path
from simulation.metrics import KEY_METRICS

EXIT_USAGE = 2


class UsageError(Exception):
    """A problem with what the user asked for; printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse prints usage + message; we want one line
        raise UsageError(f"{self.prog}: {message}")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {value}")
    return value


def parse_set(items: list[str] | None) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; VALUE is read as a TOML value (number, bool, array, "string"),
    falling back to a bare string, and then type-checked against the schema."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(
                f"--set {item!r}: expected KEY=VALUE, e.g. public.budget_usd_per_month=1e7"
            )
        out[key.strip()] = parse_value(raw.strip())
    return out


def parse_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def build_parser() -> Parser:
    parser = Parser(prog="run.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    sub.add_parser("list", help="the scenarios with a one-line description each").set_defaults(
        func=cmd_list
    )
    p = sub.add_parser("run", help="run one scenario and write its metrics")
    p.set_defaults(func=cmd_run)
    p.add_argument("scenario", help="a name in scenarios/ or a path to a TOML file")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--steps", type=positive_int, help="months to simulate (default: 120)")
    p.add_argument("--researchers", type=positive_int, help="population size (default: 10,000)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key")
    p.add_argument("--out", type=Path, help="write metrics.parquet and run.json here")
    from analysis import cli as analysis_cli  # noqa: PLC0415  (compare, plot, report, experiment)
    from analysis import fit_cli  # noqa: PLC0415  (validate, calibrate, sensitivity)
    from simulation import batch  # noqa: PLC0415  (batch imports this module)

    batch.register(sub)
    analysis_cli.register(sub)
    fit_cli.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except (UsageError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # output piped into `head` and friends
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def cmd_list(args: argparse.Namespace) -> int:
    width = max(len(n) for n in scenario_names())
    for name in scenario_names():
        cfg = load_scenario(name)
        print(f"{name:<{width}}  {cfg.description}")
    return 0


def resolve(args: argparse.Namespace):
    """The validated config for ``run``-like commands, with --steps/--researchers folded in."""
    overrides = parse_set(args.set)
    if args.steps is not None:
        overrides["simulation.steps"] = args.steps
    if args.researchers is not None:
        overrides["simulation.researchers"] = args.researchers
    return load_scenario(args.scenario, overrides)


def check_out_dir(out: Path | None) -> None:
    if out is None:
        return
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory")
    parent = out if out.exists() else _existing_parent(out)
    if not os.access(parent, os.W_OK):
        raise UsageError(f"--out {out}: cannot write to {parent}")


def _existing_parent(path: Path) -> Path:
    path = path.resolve()
    while not path.exists():
        path = path.parent
    return path


def cmd_run(args: argparse.Namespace) -> int:
    from simulation.runner import provenance, run  # noqa: PLC0415  (keeps `list` fast)

    config = resolve(args)
    check_out_dir(args.out)
    import simulation.model  # noqa: F401, PLC0415  (before the clock: "done in" is the run)

    steps, n = config.simulation.steps, config.simulation.researchers
    print(
        f"running {scenario_path(args.scenario).stem}: {n:,} researchers, {steps} months, "
        f"seed {args.seed}"
    )
    start = time.perf_counter()
    df = run(config, seed=args.seed, steps=steps, researchers=n)
    seconds = time.perf_counter() - start
    if args.out is not None:
        meta = provenance(config, args.seed, steps, n)
        meta["scenario"] = str(args.scenario)
        meta["seconds"] = round(seconds, 3)
        write_run(args.out, df, meta)
    print(summary(df, config))
    print(
        f"done in {seconds:.2f} s"
        + (f"; wrote {args.out}/metrics.parquet and run.json" if args.out else "")
    )
    return 0


def write_run(out: Path, df, meta: dict) -> None:
    """Write both files to temporary names first, then rename: never a half-written result."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=out, suffix=".parquet.tmp", delete=False) as f:
        tmp_parquet = Path(f.name)
    df.to_parquet(tmp_parquet, index=False)
    tmp_json = out / "run.json.tmp"
    tmp_json.write_text(json.dumps(meta, indent=2, default=str))
    tmp_parquet.replace(out / "metrics.parquet")
    tmp_json.replace(out / "run.json")


def summary(df, config) -> str:
    """The final month's key metrics as a small table."""
    last = df.iloc[-1]
    groups = list(config.groups)
    lines = [f"month {int(last['step'])}", f"{'':<22}" + "".join(f"{g:>14}" for g in groups)]
    for task in ("run", "finetune", "deploy"):
        lines.append(
            f"{'access.' + task:<22}"
            + "".join(f"{last[f'access.{task}.{g}']:>14.3f}" for g in groups)
        )
    for key in KEY_METRICS:
        lines.append(f"{key:<22}{last[key]:>14.3f}")
    return "\n".join(lines)
