"""discover.html: the regret summary, each question's box and trade-off, the futures by winner.

One self-contained page (figures embedded as base64 PNG, also kept in ``figures/``), so it
opens offline and on its own.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt

from analysis.discovery.boxes import FOUND, Box, describe_box
from analysis.discovery.plots import plot_tradeoff, plot_winners, winner_axes
from analysis.discovery.regret import outcome_column
from analysis.fitting.points import command_line
from analysis.results.plots import STYLE, save
from analysis.results.report import esc, figure, page, table
from analysis.results.window import FINAL_MONTHS
from simulation.files import write_text

if TYPE_CHECKING:
    from analysis.discovery.run import Discovery

RULE = """<p>Each run's outcome is the metric's mean over its final {months} months, averaged over
replicates; in each sampled future the best scenario has the {better} outcome, and a scenario's
regret is how far its outcome falls short of the best (0 for the best; ties are all best). PRIM
(EMA Workbench) peels the space of futures towards the cases of interest; the box shown is the
one of highest coverage whose density is at least {target:g} (if none is that dense: the densest
box). Coverage: cases inside the box / all cases; density: cases inside / futures inside; mass:
futures inside / all futures; qp: quasi-p-value of a limit (Bryant and Lempert 2010), small when
the limit matters.</p>"""


def number(value: float) -> str:
    """A number for a table cell: 4 significant digits, blank when undefined."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.4g}"


def summary_html(found: Discovery) -> str:
    """The regret summary table, minimax-regret first."""
    rows = [
        [r.scenario, f"{r.best_in} ({r.best_share:.0%})", number(r.mean_outcome),
         number(r.mean_regret), number(r.max_regret)]
        for r in found.summary.itertuples(index=False)
    ]  # fmt: skip
    header = ["scenario", "best in (share)", "mean outcome", "mean regret", "max regret"]
    return table(header, rows)


def box_html(box: Box, figures: Path, density_target: float) -> list[str]:
    """A question's heading, its box's statistics and limits, and its trade-off figure."""
    q = box.question
    parts = [f"<h2>{esc(q.name)}: where {esc(q.definition)}</h2>",
             f"<p>Cases of interest: {box.cases} of {box.samples} futures.</p>"]  # fmt: skip
    if box.status != FOUND:
        return [*parts, f"<p><strong>No box: {esc(box.note)}.</strong></p>"]
    parts.append(
        f"<p>Chosen box {box.chosen}: coverage {box.stat('coverage'):.2f}, density "
        f"{box.stat('density'):.2f}, mass {box.stat('mass'):.2f}, "
        f"{int(box.stat('res_dim'))} restricted parameters.</p>"
    )
    rows = [
        [r.parameter, number(r.low), number(r.high), "yes" if r.restricted else "no",
         number(r.qp_low), number(r.qp_high)]
        for r in box.limits.itertuples(index=False)
    ]  # fmt: skip
    parts.append(table(["parameter", "low", "high", "restricted", "qp low", "qp high"], rows))
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(5.5, 3.8))
        plot_tradeoff(box, ax, density_target)
        fig.tight_layout()
        png = save(fig, figures / f"tradeoff_{q.name}", ("png",))[0]
    parts.append(figure(png, f"{q.name}: coverage vs density along the peeling trajectory; "
                             f"the chosen box ringed"))  # fmt: skip
    return parts


def winners_html(found: Discovery, figures: Path) -> str:
    """The futures on the two most telling parameters, coloured by the best scenario."""
    params = [p.key for p in found.design.params]
    x, y = winner_axes(params, found.boxes, outcome_column(found.policy))
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(5.5, 4.0))
        plot_winners(found.regret, x, y, found.scenarios, ax, found.boxes)
        ax.set_title("sampled futures, coloured by the best scenario")
        fig.tight_layout()
        png = save(fig, figures / "winners", ("png",))[0]
    return figure(png, f"best scenario per future on {x} and {y}; boxes outlined")


def settings_html(found: Discovery) -> str:
    """How the futures were sampled and run."""
    s = found.settings
    items = [
        ("command", command_line()),
        ("scenarios", ", ".join(found.scenarios)),
        ("policy", found.policy),
        ("outcome", f"{found.design.outcome} ({'lower' if found.design.minimise else 'higher'} "
                    "is better)"),
        ("futures", f"{found.design.samples} (Latin hypercube, seed {s.seed})"),
        ("uncertainties", "; ".join(f"{p.key} in [{p.low:g}, {p.high:g}]"
                                    for p in found.design.params)),
        ("replicates", s.replicates),
        ("months", s.steps if s.steps is not None else "the config's"),
        ("researchers", s.researchers if s.researchers is not None else "the config's"),
        ("overrides", ", ".join(f"{k}={v!r}" for k, v in s.overrides.items()) or "none"),
    ]  # fmt: skip
    body = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items)
    return f'<dl class="meta">{body}</dl>'


def write_page(found: Discovery, path: Path) -> Path:
    """Write discover.html (figures go to ``figures/`` beside it); return its path."""
    figures = path.parent / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    better = "lowest" if found.design.minimise else "highest"
    headline = "\n".join(describe_box(b) for b in found.boxes)
    body = [
        f"<h1>Scenario discovery: {esc(found.design.outcome)}</h1>",
        RULE.format(months=FINAL_MONTHS, better=better, target=found.design.density_target),
        f"<pre>{esc(headline)}</pre>",
        "<h2>Regret per scenario</h2>",
        summary_html(found),
        winners_html(found, figures),
    ]
    for box in found.boxes:
        body += box_html(box, figures, found.design.density_target)
    body += ["<h2>Settings</h2>", settings_html(found)]
    write_text(page(f"Discovery: {found.design.outcome}", body), path)
    return path
