"""``run.py sensitivity``: Morris screening or Sobol indices of chosen outputs to chosen parameters.

Sampling and analysis are SALib's (``SALib.sample.morris``/``SALib.analyze.morris``,
``SALib.sample.sobol``/``SALib.analyze.sobol``, first- and total-order, no second order). The
runs go through the batch machinery (parallel, Dask, resumable), every sample sharing the same
replicate seeds (common random numbers), so index differences are not seed noise. Each output is
summarised per run as its mean over the final 12 months, then averaged over replicates.

The model is only reached through an :data:`Evaluator` (sample matrix in, output matrix out), so
tests pass a toy function (Ishigami, a linear model) through exactly the code path the simulation
uses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.fitting import SENSITIVITY_OUT, SENSITIVITY_REPLICATES
from analysis.fitting.points import Runner, open_runner, run_points
from analysis.results.window import final_window
from simulation.batch.engine import Execution
from simulation.batch.plan import RunSettings
from simulation.config import load_scenario, lookup, to_dict
from simulation.errors import UsageError, did_you_mean
from simulation.files import atomic_path, write_text
from simulation.metrics import scenario_metric_names

RUN_LENGTH = "simulation.steps"  # not a parameter: every run of a design must be the same length
MORRIS_LEVELS = 4
RESAMPLES = 200
Method = Literal["morris", "sobol"]
Evaluator = Callable[[np.ndarray], np.ndarray]  # samples (n x params) -> outputs (n x outputs)
INDEX_COLUMNS = {
    "morris": ("mu_star", "mu_star_conf", "mu", "sigma"),
    "sobol": ("S1", "S1_conf", "ST", "ST_conf"),
}
RANK_BY = {"morris": "mu_star", "sobol": "ST"}


@dataclass(frozen=True)
class Param:
    """A config key to vary, and its range.

    Attributes:
        key: The dotted config key.
        low: Lowest value sampled.
        high: Highest value sampled.
        integer: The key holds whole numbers, so samples are rounded (set by ``check_inputs``).
    """

    key: str
    low: float
    high: float
    integer: bool = False


def problem(params: Sequence[Param]) -> dict[str, Any]:
    """The parameters as SALib's problem definition: names and bounds."""
    return {
        "num_vars": len(params),
        "names": [p.key for p in params],
        "bounds": [[p.low, p.high] for p in params],
    }


def sample(method: Method, params: Sequence[Param], samples: int, seed: int) -> np.ndarray:
    """Draw the sample matrix for ``method``: one row per run, one column per parameter.

    Morris: ``samples`` trajectories, (D + 1) runs each. Sobol: a base sample of ``samples``
    (a power of two), N (D + 2) runs. Integer-valued keys are rounded.

    Args:
        method: ``"morris"`` or ``"sobol"``.
        params: The parameters.
        samples: Morris trajectories, or the Sobol base sample size.
        seed: Seeds SALib's sampler.
    """
    if method == "morris":
        from SALib.sample import morris  # noqa: PLC0415

        x = morris.sample(problem(params), samples, num_levels=MORRIS_LEVELS, seed=seed)
    else:
        from SALib.sample import sobol  # noqa: PLC0415

        x = sobol.sample(problem(params), samples, calc_second_order=False, seed=seed)
    for j, p in enumerate(params):
        if p.integer:
            x[:, j] = np.round(x[:, j])
    return x


def analyse(
    method: Method, params: Sequence[Param], x: np.ndarray, y: np.ndarray, seed: int
) -> pd.DataFrame:
    """Indices of one output with their 95% confidence half-widths, one row per parameter."""
    prob = problem(params)
    if method == "morris":
        from SALib.analyze import morris  # noqa: PLC0415

        res = morris.analyze(prob, x, y, num_resamples=RESAMPLES, conf_level=0.95,
                             num_levels=MORRIS_LEVELS, seed=seed)  # fmt: skip
    else:
        from SALib.analyze import sobol  # noqa: PLC0415

        res = sobol.analyze(prob, y, calc_second_order=False, num_resamples=RESAMPLES,
                            conf_level=0.95, seed=seed)  # fmt: skip
    frame = pd.DataFrame({c: np.asarray(res[c], dtype=float) for c in INDEX_COLUMNS[method]})
    frame.insert(0, "parameter", prob["names"])
    return frame


def sensitivity(
    method: Method,
    params: Sequence[Param],
    outputs: Sequence[str],
    evaluate: Evaluator,
    *,
    samples: int,
    seed: int,
) -> tuple[dict[str, pd.DataFrame], np.ndarray, np.ndarray]:
    """Sample, evaluate, analyse: the indices per output, plus the samples and outputs."""
    x = sample(method, params, samples, seed)
    y = np.asarray(evaluate(x), dtype=float).reshape(len(x), len(outputs))
    return {o: analyse(method, params, x, y[:, i], seed) for i, o in enumerate(outputs)}, x, y


def ranked_table(indices: dict[str, pd.DataFrame], method: Method) -> str:
    """Per output, the parameters from most to least influential."""
    cols = INDEX_COLUMNS[method]
    lines = []
    for output, frame in indices.items():
        frame = frame.sort_values(RANK_BY[method], ascending=False, key=lambda s: s.fillna(-1))
        width = max(len("parameter"), *(len(p) for p in frame["parameter"]))
        lines.append(f"{output}  (ranked by {RANK_BY[method]}; _conf = 95% CI half-width)")
        lines.append(f"  {'rank':>4}  {'parameter':<{width}}" + "".join(f"{c:>14}" for c in cols))
        for rank, row in enumerate(frame.itertuples(index=False), start=1):
            values = "".join(f"{getattr(row, c):>14.4g}" for c in cols)
            lines.append(f"  {rank:>4}  {row.parameter:<{width}}{values}")
        lines.append("")
    return "\n".join(lines).rstrip()


def bar_chart(frame: pd.DataFrame, method: Method, output: str, path: Path) -> None:
    """Draw one output's indices as bars with 95% intervals, the most influential on top.

    Args:
        frame: The output's indices, one row per parameter (``analyse``).
        method: ``"morris"`` (mu*) or ``"sobol"`` (total and first order).
        output: The output's name, for the title.
        path: The PNG file to write.
    """
    from matplotlib.figure import Figure  # noqa: PLC0415  (no pyplot: no backend, no state)

    frame = frame.sort_values(RANK_BY[method], ascending=True, key=lambda s: s.fillna(-1))
    fig = Figure(figsize=(8, 0.5 * len(frame) + 1.6))
    ax = fig.subplots()
    pos = np.arange(len(frame))
    if method == "morris":
        ax.barh(pos, frame["mu_star"], xerr=frame["mu_star_conf"], color="tab:blue", capsize=3)
        ax.set_xlabel("Morris mu* (mean |elementary effect|) with 95% CI")
    else:
        h = 0.38
        ax.barh(pos + h / 2, frame["ST"], h, xerr=frame["ST_conf"], label="total (ST)",
                color="tab:orange", capsize=3)  # fmt: skip
        ax.barh(pos - h / 2, frame["S1"], h, xerr=frame["S1_conf"], label="first order (S1)",
                color="tab:blue", capsize=3)  # fmt: skip
        ax.set_xlabel("Sobol index with 95% CI")
        ax.legend(loc="lower right")
    ax.set_yticks(pos, frame["parameter"])
    ax.set_title(f"{output}: {method}", fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix[1:], dpi=120)


def file_stem(output: str) -> str:
    """A file name for an output's files: a slash in its name would make a sub-directory."""
    return output.replace("/", "_")


def write_outputs(
    indices: dict[str, pd.DataFrame],
    method: Method,
    params: Sequence[Param],
    x: np.ndarray,
    y: np.ndarray,
    out: Path,
) -> None:
    """DIR/<output>.csv and DIR/<output>.png per output, and DIR/samples.csv (inputs, outputs)."""
    out.mkdir(parents=True, exist_ok=True)
    for output, frame in indices.items():
        write_text(frame.to_csv(index=False), out / f"{file_stem(output)}.csv")
        bar_chart(frame, method, output, out / f"{file_stem(output)}.png")
    table = pd.DataFrame(x, columns=[p.key for p in params])
    for i, output in enumerate(indices):
        table[output] = y[:, i]
    write_text(table.to_csv(index=False), out / "samples.csv")


# ---------------------------------------------------------------------------------------------
# The simulation as the evaluator


def check_inputs(
    scenario: str,
    params: Sequence[Param],
    outputs: Sequence[str],
    fixed: dict[str, Any] | None = None,
) -> list[Param]:
    """Check the parameters and outputs against the scenario before anything runs.

    Every key must exist, be a number and accept both ends, and must not be the run length
    (runs of different lengths cannot be read back as one design); every output must be a
    metric of the scenario.

    Args:
        scenario: The scenario the samples modify.
        params: The parameters as given.
        outputs: The metrics to analyse.
        fixed: Overrides applied to every run.

    Returns:
        The params with ``integer`` set for whole-number keys.

    Raises:
        UsageError: A bad range, key or output (a ``ConfigError`` for a value the config
            rejects).
    """
    fixed = fixed or {}
    config = load_scenario(scenario, fixed)
    tree = to_dict(config)
    checked = []
    for p in params:
        if p.low >= p.high:
            raise UsageError(f"--param {p.key}: LOW must be below HIGH (got {p.low:g}:{p.high:g})")
        if p.key == RUN_LENGTH:
            raise UsageError(f"--param {p.key}: every run must have the same length; set it "
                             "with --steps")  # fmt: skip
        try:
            current = lookup(tree, p.key)
        except (KeyError, TypeError):
            # a ConfigError naming --param, with a did-you-mean suggestion
            load_scenario(scenario, {**fixed, p.key: p.low}, option="--param")
            raise UsageError(f"--param {p.key}: not a config key") from None
        if isinstance(current, bool) or not isinstance(current, int | float):
            raise UsageError(f"--param {p.key}: not a numeric config key (it is {current!r})")
        integer = isinstance(current, int)
        for v in (p.low, p.high):
            load_scenario(scenario, {**fixed, p.key: round(v) if integer else v}, option="--param")
        checked.append(Param(p.key, p.low, p.high, integer))
    if len({p.key for p in params}) != len(params):
        raise UsageError("--param: a key is given twice")
    known = scenario_metric_names(config)
    for o in outputs:
        if o not in known:
            hint = did_you_mean(o, known)
            raise UsageError(f"--output {o}: unknown metric{hint}")
    return checked


def model_evaluator(
    runner: Runner, params: Sequence[Param], outputs: Sequence[str], out: Path
) -> Evaluator:
    """The model as an :data:`Evaluator`: samples in, outputs out.

    It runs every sample (x replicates) and returns each output's final-12-month mean, averaged
    over replicates, one row per sample.

    Args:
        runner: Scenario, settings and executor shared by the runs.
        params: The parameters, in the order of the sample's columns.
        outputs: The metrics to return, in the order of the output's columns.
        out: The batch directory for the runs.
    """

    def evaluate(x: np.ndarray) -> np.ndarray:
        points = [
            {p.key: (int(v) if p.integer else float(v)) for p, v in zip(params, row, strict=True)}
            for row in x
        ]
        results = run_points(runner, points, out)
        final = final_window(results)
        per_run = final.groupby(["point", "replicate"])[list(outputs)].mean()
        per_point = per_run.groupby("point").mean().sort_index()
        return per_point[list(outputs)].to_numpy(float)

    return evaluate


@dataclass(frozen=True)
class Design:
    """What to sample and what to measure.

    Attributes:
        method: ``"morris"`` (screening) or ``"sobol"`` (first- and total-order indices).
        params: The numeric config keys and their ranges.
        outputs: The metrics to analyse.
        samples: Morris trajectories (default 10) or the Sobol base sample, a power of two
            (default 64).
    """

    method: Method
    params: tuple[Param, ...]
    outputs: tuple[str, ...]
    samples: int | None = None

    @property
    def sample_size(self) -> int:
        """``samples``, or the method's default."""
        return self.samples or (10 if self.method == "morris" else 64)


@dataclass(frozen=True)
class Analysis:
    """Sensitivity indices and what they were computed from.

    Attributes:
        design: The design, with integer keys marked.
        indices: Output -> one row per parameter with the indices and their 95% CIs.
        x: The samples (one row per run point, one column per parameter).
        y: The outputs (final-12-month means, averaged over replicates), one column each.
        out: The directory the CSV and PNG files went to.
    """

    design: Design
    indices: dict[str, pd.DataFrame]
    x: np.ndarray
    y: np.ndarray
    out: Path

    @property
    def undefined(self) -> list[str]:
        """Outputs that are NaN in some runs (their indices are NaN)."""
        return [o for i, o in enumerate(self.design.outputs) if np.isnan(self.y[:, i]).any()]


def run_sensitivity(
    scenario: str | Path,
    design: Design,
    settings: RunSettings | None = None,
    out: str | Path = SENSITIVITY_OUT,
    execution: Execution | None = None,
    say: Callable[[str], None] = print,
) -> Analysis:
    """Sample the parameters, run every sample (resuming what is done), write the indices.

    Args:
        scenario: A name in scenarios/ or a path to a TOML file.
        design: Method, parameters, outputs and sample size.
        settings: Replicates (default 1), seed (also the sampler's), steps, researchers,
            overrides.
        out: Where the CSV, PNG and samples.csv files and the batch (``out/batch``) go.
        execution: Workers, scheduler, force, quiet.
        say: Where the opening line goes.

    Raises:
        UsageError: a key that is not numeric, a range the config refuses, an unknown output,
            or a Sobol sample size that is not a power of two.
    """
    settings = settings or RunSettings(replicates=SENSITIVITY_REPLICATES)
    out = Path(out)
    params = check_inputs(scenario, design.params, design.outputs, settings.fixed())
    design = replace(design, params=tuple(params))
    method, n = design.method, design.sample_size
    if method not in INDEX_COLUMNS:
        raise UsageError(f"method {method!r}: expected 'morris' or 'sobol'")
    if method == "sobol" and n & (n - 1):
        raise UsageError(f"--samples {n}: Sobol needs a power of two (e.g. 64)")
    runs = n * (len(params) + (1 if method == "morris" else 2))
    with open_runner(scenario, settings, execution) as runner:
        if not runner.execution.quiet:
            say(
                f"{method} sensitivity of {len(design.outputs)} outputs to {len(params)} "
                f"parameters of {scenario}: {runs} samples x {settings.replicates} replicates; "
                f"{runner.pool.description}"
            )
        evaluate = model_evaluator(runner, params, design.outputs, out / "batch")
        indices, x, y = sensitivity(
            method, params, design.outputs, evaluate, samples=n, seed=settings.seed
        )
    write_outputs(indices, method, params, x, y, out)
    return Analysis(design, indices, x, y, out)
