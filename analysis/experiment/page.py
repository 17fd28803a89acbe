"""The experiment's own HTML page.

Verdicts, the numbers behind each, and one figure per claim showing the curves of the scenarios
it compares, with its windows shaded.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from analysis.experiment.claims import Claim, resolve_window
from analysis.experiment.summary import TEST_HEADER, ExperimentResult, test_cells
from analysis.experiment.verdicts import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED
from analysis.results.load import Results
from analysis.results.plots import STYLE, WIDTH, grid, plot_metric, save, shared_legend
from analysis.results.report import configs, esc, figure, page, provenance, table
from simulation.files import write_text

CLASSES = {SUPPORTED: "supported", NOT_SUPPORTED: "not-supported", INCONCLUSIVE: "inconclusive"}
RULES = """<p>Each test's effect is treatment minus baseline, replicate by replicate, with a 95%
t-interval. It is <em>clearly higher</em> if the interval is above 0 and the estimate above
+margin, <em>clearly lower</em> in the mirror case, <em>negligible</em> if the whole interval lies
within &plusmn;margin, and <em>unclear</em> otherwise. A claim predicting <code>higher</code> is
supported by a clearly higher effect and not supported by a clearly lower one;
<code>not_higher</code> is supported by a clearly lower or negligible effect and not supported by
a clearly higher one (<code>lower</code> and <code>not_lower</code> mirror these); anything else
is inconclusive.</p>"""


def claim_figure(results: Results, claim: Claim, out: Path) -> Path:
    """Curves of the claim's metrics for the scenarios it compares; windows shaded."""
    scenarios = list(dict.fromkeys(s for side in (*claim.treatments, claim.baseline)
                                   for s in side.scenarios))  # fmt: skip
    metrics = list(dict.fromkeys(t.metric for t in claim.tests))
    steps = results.months[-1] + 1
    windows = {resolve_window(side.window, steps) for side in (*claim.treatments, claim.baseline)}
    with plt.rc_context(STYLE):
        fig, axes = grid(len(metrics), min(3, len(metrics)))
        for ax, metric in zip(axes.flat, metrics, strict=False):
            plot_metric(results, metric, ax=ax, scenarios=scenarios, legend=False)
            for first, last in sorted(windows):
                ax.axvspan(first, last, color="0.85", alpha=0.5, lw=0, zorder=0)
        shared_legend(fig, axes)
        fig.set_size_inches(WIDTH, fig.get_size_inches()[1])
        fig.suptitle(f"{claim.id}: compared windows shaded")
        paths = save(fig, out / f"claim_{claim.id}")
    return paths[0]


def write_page(outcome: ExperimentResult, out: Path) -> Path:
    """Write the experiment's HTML page, with one figure per claim.

    The page shows each claim's verdict, the rule that produced it and the numbers behind it,
    with the batch's provenance and scenario configs, so it can be read on its own.

    Args:
        outcome: The judged experiment.
        out: The output directory; figures go to ``out/figures``.

    Returns:
        The page's path, ``out/NAME.html``.
    """
    exp = outcome.experiment
    summary = [
        [esc(r.claim), f'<span class="{CLASSES[r.verdict]}">{esc(r.verdict)}</span>', esc(r.tests)]
        for r in outcome.claims.itertuples()
    ]
    body = [
        f"<h1>Experiment: {esc(exp.name)}</h1>",
        f"<p>{esc(exp.description)}</p>",
        RULES,
        table(["claim", "verdict", "tests"], summary, raw=True),
    ]
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    for claim in exp.claims:
        verdict = outcome.claims.loc[outcome.claims["claim"] == claim.id, "verdict"].iloc[0]
        rows = outcome.tests[outcome.tests["claim"] == claim.id].to_dict("records")
        body += [
            f'<h2>{esc(claim.id)}: <span class="{CLASSES[verdict]}">{esc(verdict)}</span></h2>',
            f"<p><strong>{esc(claim.statement)}</strong></p>",
            f"<p>{esc(claim.rationale)}</p>" if claim.rationale else "",
            table(TEST_HEADER, [test_cells(r) for r in rows]),
            figure(claim_figure(outcome.results, claim, figures), f"{claim.id}: curves"),
        ]
    body += [
        "<h2>Batch</h2>",
        provenance(outcome.results.meta),
        f"<p>Experiment file: <code>{esc(exp.path)}</code></p>",
        "<h2>Scenario configs</h2>",
        configs(outcome.results.meta),
    ]
    path = out / f"{exp.name}.html"
    write_text(page(f"Experiment: {exp.name}", body), path)
    return path
