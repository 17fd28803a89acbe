"""One self-contained HTML page per batch: comparison tables, figures and the configs used.

Figures are embedded as base64 PNG and the style is inline, so the page opens offline, can be
mailed or attached to a paper's supplement, and shows exactly the batch it was made from.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from analysis.results.compare import compare, explain, sections
from analysis.results.load import Results
from analysis.results.plots import write_figures
from simulation.files import write_text

REPORT = "report.html"
CSS = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.4; }
h1 { font-size: 1.6rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
h3 { font-size: 1rem; margin-top: 1.4rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.85rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f4f4f4; }
figure { margin: 1rem 0; } figure img { max-width: 100%; }
figcaption { font-size: 0.85rem; color: #555; }
pre { background: #f7f7f7; padding: 0.6rem; overflow-x: auto; font-size: 0.75rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; }
dl.meta dt { font-weight: 600; } dl.meta dd { margin: 0; }
.supported { color: #1a7f37; font-weight: 600; }
.not-supported { color: #b42318; font-weight: 600; }
.inconclusive { color: #9a6700; font-weight: 600; }
"""


def esc(text: Any) -> str:
    """Any value as text that is safe inside HTML."""
    return html.escape(str(text))


def page(title: str, body: Iterable[str]) -> str:
    """A whole HTML page with the style inline, so it opens offline and on its own.

    Args:
        title: The page's title.
        body: HTML fragments, in order.
    """
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def table(header: Sequence[str], rows: Iterable[Sequence[str]], raw: bool = False) -> str:
    """An HTML table; cells are escaped unless ``raw`` (for cells that carry markup)."""
    cell = (lambda c: str(c)) if raw else esc
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def figure(png: Path, caption: str) -> str:
    """A PNG embedded as base64, with its caption, so the page needs no other file.

    Args:
        png: The PNG file.
        caption: Caption and alt text.
    """
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def provenance(meta: dict[str, Any]) -> str:
    """The batch's command, revision, size and times as a definition list."""
    keys = [
        ("command", "command"),
        ("scenarios", "scenarios"),
        ("replicates", "replicates"),
        ("seed", "root seed"),
        ("steps", "months (--steps)"),
        ("researchers", "researchers (--researchers)"),
        ("code_revision", "code revision"),
        ("package_version", "package version"),
        ("started", "started"),
        ("ended", "ended"),
        ("succeeded", "runs succeeded"),
        ("failed", "runs failed"),
    ]
    items = []
    for key, name in keys:
        if key in meta and meta[key] is not None:
            value = meta[key]
            if isinstance(value, dict | list):
                value = ", ".join(value)
            items.append(f"<dt>{esc(name)}</dt><dd><code>{esc(value)}</code></dd>")
    if not items:
        return "<p>No batch.json: provenance unknown.</p>"
    return '<dl class="meta">' + "".join(items) + "</dl>"


def configs(meta: dict[str, Any]) -> str:
    """Every resolved scenario config of the batch, collapsed, as JSON."""
    entries = meta.get("configs") or []
    if not entries:
        return "<p>No resolved configs recorded (batch.json missing or incomplete).</p>"
    parts = []
    for entry in entries:
        sweep = entry.get("sweep") or {}
        name = entry.get("scenario", "?") + (
            " (" + ", ".join(f"{k}={v}" for k, v in sweep.items()) + ")" if sweep else ""
        )
        text = json.dumps(entry.get("config"), indent=2, sort_keys=False)
        parts.append(f"<details><summary>{esc(name)}</summary><pre>{esc(text)}</pre></details>")
    return "\n".join(parts)


def compare_html(results: Results, **kwargs: Any) -> list[str]:
    """The comparison as HTML: how to read it, then one table per metric.

    Args:
        results: The batch.
        **kwargs: Passed to :func:`analysis.results.compare.compare` (baseline, month,
            metrics).
    """
    t = compare(results, **kwargs)
    out = [f"<p>{esc(p)}</p>" for p in explain(t)]
    for s in sections(t):
        out += [f"<h3>{esc(s.heading)}</h3>", table(s.header, s.rows)]
    return out


def write_report(
    results: Results,
    out: Path | None = None,
    baseline: str | None = None,
    month: int | None = None,
    metrics: list[str] | None = None,
) -> Path:
    """Write ``report.html`` and the figures it embeds into ``out``.

    The figures go under ``figures/``; ``out`` defaults to the batch directory.

    Args:
        results: The batch.
        out: The directory to write to.
        baseline: Scenario to compare with (default: ``market``, else the first).
        month: The single month reported (default: the last).
        metrics: Metrics to compare and plot (default: a key set).

    Returns:
        The page's path.
    """
    out = out or results.path or Path(".")
    out.mkdir(parents=True, exist_ok=True)
    figures = write_figures(results, out / "figures", metrics, formats=("png",))
    name = results.path.name if results.path else "results"
    body = [
        f"<h1>Batch report: {esc(name)}</h1>",
        "<h2>Batch</h2>",
        provenance(results.meta),
        "<h2>Comparison</h2>",
        *compare_html(results, baseline=baseline, month=month, metrics=metrics),
        "<h2>Figures</h2>",
        *(figure(p, p.stem.replace("_", " ")) for p in figures),
        "<h2>Scenario configs</h2>",
        configs(results.meta),
    ]
    path = out / REPORT
    write_text(page(f"Batch report: {name}", body), path)
    return path
