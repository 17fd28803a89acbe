"""PRIM boxes (EMA Workbench): where in the sampled futures a question's answer is "yes".

A question marks each future as a case of interest (the policy is best; the policy fails).
EMA Workbench's ``Prim`` peels the space of futures into ever smaller, denser boxes (its
peeling trajectory) and pastes them back out; one box along that trajectory is chosen by a
stated rule: the box of highest coverage whose density is at least ``DENSITY_TARGET`` (0.8), or,
if none is that dense, the densest box (the higher coverage on a tie). A box's statistics are
EMA's: coverage (cases inside / all cases), density (cases inside / futures inside), mass
(futures inside / all futures) and, per restricted limit, the quasi-p-value of Bryant and
Lempert (2010), a one-sided binomial test of whether the limit matters.

Only numeric columns go to PRIM and only the trajectory, limits and p-values are read
(``PrimBox.inspect`` fails under pandas 3 when an input is categorical; it is never called).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.discovery import DENSITY_TARGET
from analysis.discovery.ema import ema
from analysis.fitting.sensitivity import Param

FOUND, EVERYWHERE, NOWHERE, NO_BOX = "found", "everywhere", "nowhere", "no box"
TRAJECTORY_COLUMNS = ["id", "coverage", "density", "mass", "res_dim", "n", "k"]
LIMIT_COLUMNS = ["parameter", "low", "high", "restricted", "qp_low", "qp_high"]


@dataclass(frozen=True)
class Question:
    """Which futures are cases of interest.

    Attributes:
        name: ``policy_best`` or ``policy_fails``.
        definition: The question in words, e.g. "public_option is best".
        cases: One flag per future.
    """

    name: str
    definition: str
    cases: np.ndarray


@dataclass(frozen=True)
class Box:
    """The chosen PRIM box of one question, with the trajectory it was chosen from.

    Attributes:
        question: The question.
        status: ``found``; ``everywhere`` (every future is a case: the whole space, no PRIM);
            ``nowhere`` (no future is: no box); ``no box`` (PRIM found none).
        trajectory: The peeling and pasting trajectory (``TRAJECTORY_COLUMNS``), empty
            without PRIM.
        chosen: The chosen box's ``id`` on the trajectory (None without one).
        limits: One row per parameter (``LIMIT_COLUMNS``): the box's range (a free side shows
            the sampled bound), whether it is restricted, and the quasi-p-values of its lower
            and upper limits (NaN for a free side).
        note: Why there is no box, when there is none.
    """

    question: Question
    status: str
    trajectory: pd.DataFrame
    chosen: int | None
    limits: pd.DataFrame
    note: str = ""

    @property
    def cases(self) -> int:
        """Futures that are cases of interest."""
        return int(np.sum(self.question.cases))

    @property
    def samples(self) -> int:
        """Futures in all."""
        return len(self.question.cases)

    def stat(self, name: str) -> float:
        """The chosen box's coverage, density, mass or res_dim (NaN without a box)."""
        if self.chosen is None:
            if self.status == EVERYWHERE:
                return 0.0 if name == "res_dim" else 1.0
            return float("nan")
        row = self.trajectory[self.trajectory["id"] == self.chosen].iloc[0]
        return float(row[name])

    def restricted(self) -> pd.DataFrame:
        """The limits of the restricted parameters only."""
        return self.limits[self.limits["restricted"]]


def choose_box(trajectory: pd.DataFrame, density_target: float = DENSITY_TARGET) -> int:
    """The id of the box the rule picks (see the module docstring)."""
    dense = trajectory[trajectory["density"] >= density_target]
    if len(dense):
        pick = dense.sort_values(["coverage", "density", "id"], ascending=[False, False, True])
    else:
        pick = trajectory.sort_values(["density", "coverage", "id"], ascending=[False, False, True])
    return int(pick.iloc[0]["id"])


def find_box(
    design: pd.DataFrame,
    params: Sequence[Param],
    question: Question,
    density_target: float = DENSITY_TARGET,
) -> Box:
    """Run PRIM on the futures for ``question`` and choose one box along its trajectory.

    Args:
        design: One row per future, one numeric column per parameter.
        params: The parameters and their sampled ranges (a free side of a box shows these).
        question: Which futures are cases of interest.
        density_target: The density the chosen box should reach.
    """
    cases = np.asarray(question.cases, dtype=bool)
    empty = pd.DataFrame(columns=TRAJECTORY_COLUMNS)
    if not cases.any():
        return Box(question, NOWHERE, empty, None, free_limits(params),
                   "no future is a case, so there is no box")  # fmt: skip
    if cases.all():
        return Box(question, EVERYWHERE, empty, None, free_limits(params),
                   "every future is a case: the whole space, no box needed")  # fmt: skip
    prim = ema("ema_workbench.analysis.prim")
    x = design[[p.key for p in params]].astype(float).reset_index(drop=True)
    try:
        with warnings.catch_warnings():  # EMA's own pandas deprecations, not the user's concern
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            box = prim.Prim(x, cases).find_box()
    except (prim.PrimException, ValueError) as e:
        return Box(question, NO_BOX, empty, None, free_limits(params), f"PRIM failed: {e}")
    if box is None:
        return Box(question, NO_BOX, empty, None, free_limits(params), "PRIM found no box")
    trajectory = box.peeling_trajectory[TRAJECTORY_COLUMNS].astype(
        {"id": int, "res_dim": int, "n": int, "k": int}
    )
    chosen = choose_box(trajectory, density_target)
    limits = box_limits(params, box.box_lims[chosen], box.box_lims[0], box.p_values[chosen])
    return Box(question, FOUND, trajectory.reset_index(drop=True), chosen, limits)


def free_limits(params: Sequence[Param]) -> pd.DataFrame:
    """Every parameter over its whole sampled range, unrestricted."""
    return pd.DataFrame(
        [(p.key, p.low, p.high, False, np.nan, np.nan) for p in params], columns=LIMIT_COLUMNS
    )


def box_limits(
    params: Sequence[Param],
    lims: pd.DataFrame,
    initial: pd.DataFrame,
    qp: dict[str, list[float]],
) -> pd.DataFrame:
    """A box's limits per parameter, a free side shown as the sampled bound.

    Args:
        params: The parameters.
        lims: EMA's box limits (row 0 lower, row 1 upper; one column per parameter).
        initial: The limits of the whole space (the trajectory's first box).
        qp: EMA's quasi-p-values of the box, restricted parameter -> [lower, upper] (-1 for a
            free side).
    """
    rows = []
    for p in params:
        low, high = float(lims.at[0, p.key]), float(lims.at[1, p.key])
        low_free, high_free = low <= initial.at[0, p.key], high >= initial.at[1, p.key]
        q_low, q_high = (float(v) if v is not None and v >= 0 else np.nan
                         for v in qp.get(p.key, [-1, -1]))  # fmt: skip
        rows.append((
            p.key,
            p.low if low_free else low,
            p.high if high_free else high,
            not (low_free and high_free),
            np.nan if low_free else q_low,
            np.nan if high_free else q_high,
        ))  # fmt: skip
    return pd.DataFrame(rows, columns=LIMIT_COLUMNS)


def boxes_frame(boxes: Sequence[Box]) -> pd.DataFrame:
    """boxes.csv: one row per question and parameter, the box's statistics repeated."""
    frames = []
    for box in boxes:
        frame = box.limits.copy()
        head = {
            "question": box.question.name,
            "definition": box.question.definition,
            "status": box.status,
            "box": box.chosen if box.chosen is not None else "",
            "coverage": box.stat("coverage"),
            "density": box.stat("density"),
            "mass": box.stat("mass"),
            "restricted_dims": _whole(box.stat("res_dim")),
            "cases": box.cases,
            "samples": box.samples,
        }
        for i, (name, value) in enumerate(head.items()):
            frame.insert(i, name, value)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _whole(value: float) -> int | str:
    """A count for a CSV cell: a whole number, or blank when undefined."""
    return "" if np.isnan(value) else int(value)


def trajectories_frame(boxes: Sequence[Box]) -> pd.DataFrame:
    """trajectory.csv: every question's peeling trajectory, the chosen box flagged."""
    frames = [
        box.trajectory.assign(question=box.question.name, chosen=box.trajectory["id"] == box.chosen)
        for box in boxes
        if len(box.trajectory)
    ]
    if not frames:
        return pd.DataFrame(columns=["question", *TRAJECTORY_COLUMNS, "chosen"])
    frame = pd.concat(frames, ignore_index=True)
    return frame[["question", *TRAJECTORY_COLUMNS, "chosen"]]


def describe_box(box: Box) -> str:
    """The box in a few lines: the question, the statistics and the restricted limits."""
    q = box.question
    lines = [f"{q.name}: {q.definition} in {box.cases} of {box.samples} futures"]
    if box.status != FOUND:
        lines.append(f"  no box: {box.note}")
        return "\n".join(lines)
    lines.append(
        f"  PRIM box {box.chosen} (coverage {box.stat('coverage'):.2f}, density "
        f"{box.stat('density'):.2f}, mass {box.stat('mass'):.2f}):"
    )
    restricted = box.restricted()
    if restricted.empty:
        lines.append("    the whole space (no parameter restricted)")
    width = max([len(k) for k in restricted["parameter"]] + [0])
    for row in restricted.itertuples(index=False):
        lines.append(f"    {row.parameter:<{width}}  {row.low:.4g} .. {row.high:.4g}  "
                     f"(qp {_qp_text(row.qp_low, row.qp_high)})")  # fmt: skip
    return "\n".join(lines)


def _qp_text(low: float, high: float) -> str:
    """The quasi-p-values of a limit's restricted sides, e.g. ``low 0.003``."""
    parts = [f"{side} {v:.2g}" for side, v in (("low", low), ("high", high)) if not np.isnan(v)]
    return ", ".join(parts)
