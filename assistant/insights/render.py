"""The report as one self-contained HTML page: charts drawn by matplotlib as inline SVG, no script, no CDN.

The same page is written by ``dgm-assistant report --html FILE`` and served at ``/admin``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from pathlib import Path

from markupsafe import Markup, escape

from .report import Report

TEMPLATES = Path(__file__).resolve().parent / "templates"
BAR_COLOR = "#1f5fa8"  # the FPS blue, as the widget's
_SIZE = re.compile(r'\s(width|height)="[\d.]+pt"')
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)


def svg_bars(labels: Sequence[str], values: Sequence[int], title: str, horizontal: bool = False) -> Markup:
    """A bar chart as an inline ``<svg>`` (scaling to its container's width; ``title`` is its accessible name,
    the page's heading shows it), or an empty string."""
    if not values:
        return Markup("")
    from matplotlib.figure import Figure  # no pyplot: no global state, safe in the service's threads

    n = len(values)
    fig = Figure(figsize=(6.4, max(2.2, 0.32 * n + 1.0)) if horizontal else (6.4, 2.8))
    ax = fig.add_subplot()
    if horizontal:
        ax.barh(list(labels)[::-1], list(values)[::-1], color=BAR_COLOR)
        ax.set_xlabel("questions")
    else:
        ax.bar(list(labels), list(values), color=BAR_COLOR)
        ax.set_ylabel("questions")
        if n > 6:
            ax.tick_params(axis="x", labelrotation=45)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    buf = io.StringIO()
    # Text stays text (searchable, readable by screen readers); a fixed salt keeps the output reproducible.
    fig.savefig(buf, format="svg", metadata={"Date": None}, transparent=True)
    svg = buf.getvalue()
    svg = _METADATA.sub("", svg[svg.index("<svg"):], count=1)
    svg = _SIZE.sub("", svg, count=2).replace("<svg ", f'<svg role="img" aria-label="{escape(title)}" ', 1)
    return Markup(svg)


def render_html(report: Report, csv_url: str | None = None) -> str:
    """The page of ``report``; ``csv_url``: where the page offers the records as CSV (none in a file)."""
    import matplotlib
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    matplotlib.rcParams["svg.fonttype"] = "none"
    matplotlib.rcParams["svg.hashsalt"] = "dgm-report"
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    charts = {
        "per_day": svg_bars([d.isoformat() for d, _ in report.per_day], [n for _, n in report.per_day],
                            "Questions per day"),
        "per_language": svg_bars([k for k, _ in report.per_language], [n for _, n in report.per_language],
                                 "Questions per language"),
        "per_unit": svg_bars([k for k, _ in report.per_unit], [n for _, n in report.per_unit],
                             "Answered questions per unit", horizontal=True),
    }
    return env.get_template("report.html").render(report=report, charts=charts, csv_url=csv_url)
