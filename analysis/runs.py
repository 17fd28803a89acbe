"""Run a batch from Python (a notebook, an experiment) through the batch command itself.

Going through ``run.py batch``'s own parser and command keeps one code path: the same
validation, seeds (common random numbers), resume and provenance as on the command line, and
any option the batch gains later gets its default here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from analysis.results import AnalysisError, Results, load_batch

EXIT_INTERRUPTED = 130


def batch_command(argv: Sequence[str]) -> int:
    """``run.py batch ARGV...``; UsageError/ConfigError propagate to the caller."""
    from simulation.cli import build_parser  # noqa: PLC0415  (the parser registers this package)

    args = build_parser().parse_args(["batch", *argv])
    return args.func(args)


def batch_argv(
    scenarios: Sequence[str],
    out: Path,
    *,
    replicates: int = 10,
    seed: int = 0,
    steps: int | None = None,
    researchers: int | None = None,
    sets: Sequence[str] = (),
    sweeps: Sequence[str] = (),
    workers: int | None = None,
    force: bool = False,
    quiet: bool = True,
) -> list[str]:
    argv = [*scenarios, "--replicates", str(replicates), "--seed", str(seed), "--out", str(out)]
    if steps is not None:
        argv += ["--steps", str(steps)]
    if researchers is not None:
        argv += ["--researchers", str(researchers)]
    for item in sets:
        argv += ["--set", item]
    for item in sweeps:
        argv += ["--sweep", item]
    if workers is not None:
        argv += ["--workers", str(workers)]
    if force:
        argv.append("--force")
    if quiet:
        argv.append("--quiet")
    return argv


def run_batch(
    scenarios: Sequence[str],
    out: str | Path,
    *,
    replicates: int = 10,
    seed: int = 0,
    steps: int | None = None,
    researchers: int | None = None,
    sets: Sequence[str] = (),
    sweeps: Sequence[str] = (),
    workers: int | None = None,
    force: bool = False,
    quiet: bool = True,
) -> Results:
    """Run (or resume) a batch into ``out`` and load its results. ``sets`` and ``sweeps`` are
    ``KEY=VALUE`` and ``KEY=V1,V2`` texts as on the command line."""
    out = Path(out)
    argv = batch_argv(
        scenarios,
        out,
        replicates=replicates,
        seed=seed,
        steps=steps,
        researchers=researchers,
        sets=sets,
        sweeps=sweeps,
        workers=workers,
        force=force,
        quiet=quiet,
    )
    code = batch_command(argv)
    if code == EXIT_INTERRUPTED:
        raise KeyboardInterrupt
    if code != 0 and not (out / "results.parquet").exists():
        raise AnalysisError(f"the batch in {out} failed (exit status {code}); see batch.json")
    return load_batch(out)
