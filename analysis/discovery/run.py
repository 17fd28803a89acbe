"""``run.py discover``: sample futures, run every scenario in each, find where the policy wins.

Every check comes first (EMA Workbench installed, scenarios, policy, parameters, metrics,
threshold, output directory), so bad input writes nothing. The futures are a seeded Latin
hypercube over the uncertainties; every scenario runs at every future through the batch engine
(:mod:`analysis.fitting.points`: parallel or on Dask, resumable, every future and scenario on
the same replicate seeds, so regrets compare like with like). Then the regret table, PRIM boxes
for "where is the policy best" (and, with a threshold, "where does it fail"), and the page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.discovery import (
    DENSITY_TARGET,
    DISCOVER_OUT,
    DISCOVER_REPLICATES,
    DISCOVER_SAMPLES,
)
from analysis.discovery.boxes import Box, Question, boxes_frame, find_box, trajectories_frame
from analysis.discovery.ema import require_ema
from analysis.discovery.regret import final_means, regret_column, regret_summary, regret_table
from analysis.discovery.sample import (
    MIN_SAMPLES,
    check_metric,
    check_uncertainties,
    design_points,
    latin_hypercube,
)
from analysis.discovery.threshold import Threshold, parse_threshold
from analysis.fitting.points import open_runner, run_points
from analysis.fitting.sensitivity import Param
from analysis.results.window import FINAL_MONTHS
from simulation.batch.engine import Execution
from simulation.batch.plan import RunSettings
from simulation.config import scenario_path
from simulation.errors import UsageError, did_you_mean
from simulation.files import check_writable_dir, write_text

BASELINE = "market"
POLICY_BEST, POLICY_FAILS = "policy_best", "policy_fails"
REGRET_CSV, BOXES_CSV, TRAJECTORY_CSV, PAGE = (
    "regret.csv",
    "boxes.csv",
    "trajectory.csv",
    "discover.html",
)


@dataclass(frozen=True)
class DiscoveryDesign:
    """What to sample, what to measure and what to ask of it.

    Attributes:
        params: The uncertainties: numeric config keys and their ranges, as Params or as
            ``{dotted_key: (low, high)}``.
        outcome: The metric compared (its mean over the final 12 months, over replicates).
        samples: Futures drawn by the Latin hypercube (at least 2).
        policy: The scenario the boxes are about (default: the first that is not ``market``).
        fails: When the policy fails, e.g. ``"access.finetune.global_south<0.2"`` (optional).
        minimise: Lower outcomes are better.
        density_target: The density the chosen box should reach (see ``boxes``).
    """

    params: tuple[Param, ...] | Mapping[str, tuple[float, float]]
    outcome: str
    samples: int = DISCOVER_SAMPLES
    policy: str | None = None
    fails: str | Threshold | None = None
    minimise: bool = False
    density_target: float = DENSITY_TARGET


@dataclass(frozen=True)
class Discovery:
    """What discovery found, and where it wrote it.

    Attributes:
        scenarios: The scenario labels (file stems), in the order given.
        policy: The policy's label.
        design: The design, parameters checked and threshold parsed.
        settings: Replicates, seed, steps, researchers and overrides of every run.
        regret: regret.csv: per future, its parameters, outcomes, best scenario and regrets.
        summary: Per scenario: times best, mean outcome, mean and max regret.
        boxes: The PRIM box of each question (policy_best, then policy_fails).
        out: The output directory.
        files: The files written (the batch is in ``out/batch``).
    """

    scenarios: tuple[str, ...]
    policy: str
    design: DiscoveryDesign
    settings: RunSettings
    regret: pd.DataFrame
    summary: pd.DataFrame
    boxes: tuple[Box, ...]
    out: Path
    files: tuple[Path, ...] = ()

    @property
    def headline(self) -> Box:
        """The box of the first question: where the policy is best."""
        return self.boxes[0]


def scenario_labels(scenarios: Sequence[str | Path]) -> tuple[str, ...]:
    """The scenarios' labels (file stems), at least two and all different."""
    labels = tuple(scenario_path(s).stem for s in scenarios)
    if len(labels) < 2:
        raise UsageError(f"discover compares scenarios: give at least 2, got {len(labels)}")
    for label in labels:
        if labels.count(label) > 1:
            raise UsageError(f"scenario {label!r} is given twice")
    return labels


def choose_policy(labels: Sequence[str], policy: str | None) -> str:
    """The policy's label: as given (a scenario's name or path), or the first that is not market.

    Raises:
        UsageError: The policy is not among the scenarios.
    """
    if policy is None:
        return next(label for label in labels if label != BASELINE)
    label = scenario_path(policy).stem if policy not in labels else policy
    if label not in labels:
        raise UsageError(f"--policy {policy}: not among the scenarios ({', '.join(labels)})"
                         f"{did_you_mean(policy, labels)}")  # fmt: skip
    return label


def check_design(
    scenarios: Sequence[str], design: DiscoveryDesign, settings: RunSettings
) -> DiscoveryDesign:
    """The design with its parameters checked in every scenario and its threshold parsed.

    Raises:
        UsageError: A bad parameter, an unknown metric, a malformed threshold, too few samples.
    """
    fixed = settings.fixed()
    if design.samples < MIN_SAMPLES:
        raise UsageError(f"--samples {design.samples}: need at least {MIN_SAMPLES} futures")
    params = check_uncertainties(scenarios, design.params, fixed)
    check_metric("--outcome", design.outcome, scenarios, fixed)
    fails = parse_threshold(design.fails) if design.fails is not None else None
    if fails is not None:
        check_metric("--fails", fails.metric, scenarios, fixed)
    if not 0 < design.density_target <= 1:
        raise UsageError(f"density target {design.density_target}: expected a share in (0, 1]")
    return replace(design, params=params, fails=fails)


def questions(
    table: pd.DataFrame, policy: str, design: DiscoveryDesign, fails_values: np.ndarray | None
) -> list[Question]:
    """The questions PRIM answers: where the policy is best; where it fails (with a threshold)."""
    best = Question(
        POLICY_BEST,
        f"{policy} is best ({'lowest' if design.minimise else 'highest'} {design.outcome})",
        (table[regret_column(policy)] == 0).to_numpy(),
    )
    if fails_values is None or design.fails is None:
        return [best]
    return [best, Question(POLICY_FAILS, f"{policy} fails ({design.fails})",
                           design.fails.fails(fails_values))]  # fmt: skip


def run_discovery(
    scenarios: Sequence[str | Path],
    design: DiscoveryDesign,
    settings: RunSettings | None = None,
    out: str | Path = DISCOVER_OUT,
    execution: Execution | None = None,
    say: Callable[[str], None] = print,
) -> Discovery:
    """Sample the futures, run every scenario in each (resuming what is done), find the boxes.

    Writes ``regret.csv``, ``boxes.csv``, ``trajectory.csv``, ``discover.html`` and its
    figures to ``out``; the runs go to ``out/batch``.

    Args:
        scenarios: Names in scenarios/ or paths to TOML files, at least two.
        design: Uncertainties, outcome, samples, policy, threshold, direction.
        settings: Replicates (default 1), seed (also the hypercube's), steps, researchers,
            overrides.
        out: The output directory.
        execution: Workers, scheduler, force, quiet.
        say: Where the opening line goes.

    Raises:
        UsageError: Bad input (before anything is written), or EMA Workbench missing.
        FailedRuns: Some runs failed (a rerun retries them).
    """
    require_ema()
    settings = settings or RunSettings(replicates=DISCOVER_REPLICATES)
    sources = tuple(str(s) for s in scenarios)
    labels = scenario_labels(sources)
    policy = choose_policy(labels, design.policy)
    design = check_design(sources, design, settings)
    out = Path(out)
    check_writable_dir(out)
    futures = latin_hypercube(design.params, design.samples, settings.seed)
    with open_runner(sources, settings, execution) as runner:
        if not runner.execution.quiet:
            say(
                f"discovery: {len(labels)} scenarios x {design.samples} futures x "
                f"{settings.replicates} replicates = "
                f"{len(labels) * design.samples * settings.replicates} runs; "
                f"{runner.pool.description}"
            )
        results = run_points(runner, design_points(futures), out / "batch")
    outcomes = final_means(results, design.outcome, FINAL_MONTHS)
    table = regret_table(futures, outcomes, labels, design.minimise)
    fails_values = None
    if design.fails is not None:
        fails_values = final_means(results, design.fails.metric, FINAL_MONTHS)[policy].to_numpy()
        table[f"fails.{design.fails.metric}"] = fails_values
    boxes = tuple(
        find_box(futures, design.params, q, design.density_target)
        for q in questions(table, policy, design, fails_values)
    )
    found = Discovery(labels, policy, design, settings, table, regret_summary(table, labels),
                      boxes, out)  # fmt: skip
    return replace(found, files=write_outputs(found))


def write_outputs(found: Discovery) -> tuple[Path, ...]:
    """regret.csv, boxes.csv, trajectory.csv and discover.html (figures in ``figures/``)."""
    from analysis.discovery.page import write_page  # noqa: PLC0415  (matplotlib)

    out = found.out
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for name, frame in (
        (REGRET_CSV, found.regret),
        (BOXES_CSV, boxes_frame(found.boxes)),
        (TRAJECTORY_CSV, trajectories_frame(found.boxes)),
    ):
        write_text(frame.to_csv(index=False), out / name)
        files.append(out / name)
    files.append(write_page(found, out / PAGE))
    return tuple(files)
