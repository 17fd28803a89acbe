"""The experiment's own HTML page.

Verdicts, the numbers behind each, and one figure per claim showing the curves of the scenarios
it compares, with its windows shaded.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from analysis.experiment.claims import OWN, Claim, resolve_window
from analysis.experiment.summary import (
    TEST_HEADER,
    ExperimentResult,
    combine_text,
    test_cells,
    windows_text,
)
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
is inconclusive. Beside the interval, <em>replicates beyond margin</em> counts the replicates whose
own effect lies beyond the margin in the predicted direction (higher: &gt; +margin; lower:
&lt; &minus;margin; not_higher: &lt; +margin; not_lower: &gt; &minus;margin): when replicates
split into two clusters the interval straddles 0, and this count still says how often the claim
holds. It is reported, not used in the verdict. A premise (e.g. equal realised spend) counts the
replicates within its margin; a treatment whose premise is not met has its tests
inconclusive.</p>"""


def claim_figure(results: Results, claim: Claim, windows: dict, out: Path) -> Path:
    """Curves of the claim's metrics for the scenarios it compares; its windows shaded.

    Args:
        results: The batch, derived metrics included.
        claim: The claim.
        windows: The experiment windows it was judged in, label -> window.
        out: The figures directory.
    """
    scenarios = list(dict.fromkeys(s for side in claim.sides for s in side.scenarios))
    metrics = list(dict.fromkeys(t.metric for t in claim.tests))
    steps = results.months[-1] + 1
    spans = {
        resolve_window(side.window_in(window), steps)
        for window in claim.windows(windows).values()
        for side in claim.sides
    }
    with plt.rc_context(STYLE):
        fig, axes = grid(len(metrics), min(3, len(metrics)))
        for ax, metric in zip(axes.flat, metrics, strict=False):
            plot_metric(results, metric, ax=ax, scenarios=scenarios, legend=False)
            for first, last in sorted(spans):
                ax.axvspan(first, last, color="0.85", alpha=0.5, lw=0, zorder=0)
        shared_legend(fig, axes)
        fig.set_size_inches(WIDTH, fig.get_size_inches()[1])
        fig.suptitle(f"{claim.id}: compared windows shaded")
        paths = save(fig, out / f"claim_{claim.id}")
    return paths[0]


def _verdict(verdict: str) -> str:
    return f'<span class="{CLASSES[verdict]}">{esc(verdict)}</span>'


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
        [esc(r.claim), esc(r.window), _verdict(r.verdict), esc(r.tests)]
        for r in outcome.claims.itertuples()
    ]
    fitting, skipped = exp.fitting_windows(outcome.results.months[-1] + 1)
    body = [
        f"<h1>Experiment: {esc(exp.name)}</h1>",
        f"<p>{esc(exp.description)}</p>",
        RULES,
        f"<p>{esc(windows_text(exp))}</p>",
        *[f"<p><strong>Note: {esc(note)}.</strong></p>" for note in skipped],
        table(["claim", "window", "verdict", "tests"], summary, raw=True),
    ]
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    for claim in exp.claims:
        mine = outcome.claims[outcome.claims["claim"] == claim.id]
        verdicts = "; ".join(
            _verdict(r.verdict) if r.window == OWN else f"{esc(r.window)} {_verdict(r.verdict)}"
            for r in mine.itertuples()
        )
        rows = outcome.tests[outcome.tests["claim"] == claim.id].to_dict("records")
        body += [
            f"<h2>{esc(claim.id)}: {verdicts}</h2>",
            f"<p><strong>{esc(claim.statement)}</strong> (combined: {esc(combine_text(claim))})"
            "</p>",
            f"<p>{esc(claim.rationale)}</p>" if claim.rationale else "",
            table(TEST_HEADER, [test_cells(r) for r in rows]),
            figure(claim_figure(outcome.results, claim, fitting, figures), f"{claim.id}: curves"),
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
