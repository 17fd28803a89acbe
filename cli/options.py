"""What the commands share: the parser class, value types, and the run options declared once.

Every command that runs a batch (``batch``, ``experiment``, ``validate``, ``calibrate``,
``sensitivity``) takes the same run options from :func:`add_run_options`; a command may keep its
own defaults (validate's 10 replicates, calibrate's 3,000 researchers), shown in ``--help``.
"""

from __future__ import annotations

import argparse
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulation.batch.executors import MAX_WORKERS, default_workers
from simulation.batch.plan import MAX_REPLICATES, RunSettings
from simulation.config import MAX_RESEARCHERS, MAX_STEPS
from simulation.errors import UsageError, check_whole

if TYPE_CHECKING:
    from simulation.batch.engine import Execution


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (a UsageError), not usage plus message."""

    def error(self, message: str) -> None:  # noqa: D102
        raise UsageError(f"{self.prog}: {message}")


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1."""
    return _whole(text, 1)


def non_negative_int(text: str) -> int:
    """An argparse type: a whole number >= 0."""
    return _whole(text, 0)


def _whole(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number >= {low}, got {text!r}"
        ) from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {low}, got {value}")
    return value


def parse_value(raw: str) -> Any:
    """A command-line value read as TOML (number, bool, array, "string"), else a bare string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def parse_set(items: list[str] | None) -> dict[str, Any]:
    """``--set KEY=VALUE`` options as a dict; values are type-checked later, by the schema."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(
                f"--set {item!r}: expected KEY=VALUE, e.g. public.budget_usd_per_month=1e7"
            )
        out[key.strip()] = parse_value(raw.strip())
    return out


def split_values(text: str) -> list[str]:
    """Split ``V1,V2,...`` at top-level commas, so arrays and quoted strings may hold commas."""
    items: list[str] = []
    current: list[str] = []
    depth, quote, escaped = 0, "", False
    for ch in text:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    items.append("".join(current).strip())
    return items


def parse_sweep(items: list[str] | None) -> dict[str, list[Any]]:
    """``--sweep KEY=V1,V2,...`` options as key -> values (a full factorial across keys)."""
    sweep: dict[str, list[Any]] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        texts = split_values(raw) if raw.strip() else []
        if not sep or not key or not texts or any(not t for t in texts):
            raise UsageError(
                f"--sweep {item!r}: expected KEY=V1,V2,... with at least one value, "
                "e.g. public.budget_usd_per_month=0,1e7"
            )
        if len(set(texts)) != len(texts):
            raise UsageError(f"--sweep {item!r}: a value is given twice")
        if key in sweep:
            raise UsageError(f"--sweep {key}: given twice; list all its values in one --sweep")
        sweep[key] = [parse_value(t) for t in texts]
    return sweep


@dataclass(frozen=True)
class RunDefaults:
    """A command's own defaults for the shared run options."""

    replicates: int
    out: Path | None
    seed: int = 0
    researchers: int | None = None
    what: str = "replicates per scenario and sweep point"
    out_shown: str = ""  # how the default --out is described when it depends on other input


def add_run_options(p: argparse.ArgumentParser, defaults: RunDefaults) -> None:
    """Declare the options shared by every command that runs a batch.

    --replicates --seed --steps --researchers --set --workers --scheduler --out --force --quiet
    on ``p``, with the command's defaults, so all such commands spell and explain them alike.

    Args:
        p: The command's parser.
        defaults: The command's own defaults (replicates, seed, output directory, ...).
    """
    d = defaults
    p.add_argument(
        "--replicates",
        type=positive_int,
        default=d.replicates,
        help=f"{d.what} (default: {d.replicates})",
    )
    p.add_argument(
        "--seed",
        type=non_negative_int,
        default=d.seed,
        help=f"root of the replicate seeds (default: {d.seed})",
    )
    p.add_argument("--steps", type=positive_int, help="months per run (default: the config's)")
    shown = f"{d.researchers:,}" if d.researchers else "the config's"
    p.add_argument(
        "--researchers",
        type=positive_int,
        default=d.researchers,
        help=f"population size (default: {shown})",
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a config key in every run (repeatable)",
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        default=default_workers(),
        help="local worker processes, or workers of --scheduler local (default: the CPU count)",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="'local' for a local Dask cluster, or tcp://HOST:PORT or tls://HOST:PORT of a "
        "running Dask scheduler",
    )
    p.add_argument(
        "--security",
        type=Path,
        metavar="FILE",
        help="for a tls:// scheduler: a TOML file naming ca_file, cert and key (PEM files)",
    )
    shown = d.out_shown or str(d.out)
    p.add_argument("--out", type=Path, default=d.out, help=f"output directory (default: {shown})")
    p.add_argument(
        "--force",
        action="store_true",
        help="discard the batch files already in --out and start anew",
    )
    p.add_argument("--quiet", action="store_true", help="no progress and no summary lines")


def add_record_agents(p: argparse.ArgumentParser, where: str) -> None:
    """Declare ``--record-agents N`` (``run`` and ``batch``), its files named by ``where``."""
    p.add_argument(
        "--record-agents",
        type=positive_int,
        metavar="N",
        help=f"also record N researchers (the same each month; all if N exceeds the population) "
        f"and every lab, each month, in {where}",
    )


def check_bounds(args: argparse.Namespace) -> None:
    """The size options within their bounds, named as the user typed them."""
    for option, high in (
        ("replicates", MAX_REPLICATES),
        ("steps", MAX_STEPS),
        ("researchers", MAX_RESEARCHERS),
        ("workers", MAX_WORKERS),
        ("record_agents", MAX_RESEARCHERS),
    ):
        value = getattr(args, option, None)
        if value is not None:
            check_whole(f"--{option.replace('_', '-')}", value, 1, high)


def run_settings(args: argparse.Namespace) -> RunSettings:
    """The run options that decide what is computed."""
    check_bounds(args)
    return RunSettings(
        replicates=args.replicates,
        seed=args.seed,
        steps=args.steps,
        researchers=args.researchers,
        overrides=parse_set(args.set),
        record_agents=getattr(args, "record_agents", None),  # run.py batch only
    )


def execution(args: argparse.Namespace) -> Execution:
    """The run options that decide how it is computed."""
    from simulation.batch.engine import Execution  # noqa: PLC0415  (pyarrow: only when running)

    return Execution(
        workers=args.workers,
        scheduler=args.scheduler,
        security=args.security,
        force=args.force,
        quiet=args.quiet,
    )
