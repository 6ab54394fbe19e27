"""A static HTML page of a history: open regressions, then one trend picture per series.

Everything the page shows sits in its folder (the page and its PNGs), so it opens from a
file share or a CI artifact without a network.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from html import escape
from pathlib import Path

from hil.history.changes import ALPHA, MIN_EFFECT
from hil.history.regressions import Finding, find, open_regressions, series_changes
from hil.history.store import Point, SeriesKey
from hil.history.trend import plot_trend

STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; font-size: 0.9em; }
th { background: #eee; }
td.worse { color: #b00; font-weight: bold; } td.changed { color: #b60; font-weight: bold; }
figure { margin: 0 0 1.5em 0; } img { max-width: 100%; border: 1px solid #ddd; }
"""


def write_report(
    folder: Path,
    history: dict[SeriesKey, list[Point]],
    title: str = "speck-hil history",
    alpha: float = ALPHA,
    min_effect: float = MIN_EFFECT,
) -> Path:
    """Write ``index.html`` and its pictures into ``folder``; returns the page's path."""
    folder.mkdir(parents=True, exist_ok=True)
    findings = find(history, alpha, min_effect)
    figures = []
    for key, points in history.items():
        name = f"trend-{_slug(key)}.png"
        plot_trend(folder / name, key, points, series_changes(points, alpha, min_effect))
        figures.append((key, name, len(points)))
    page = folder / "index.html"
    page.write_text(_page(title, open_regressions(findings), figures, alpha, min_effect), "utf-8")
    return page


def _page(
    title: str,
    regressions: list[Finding],
    figures: list[tuple[SeriesKey, str, int]],
    alpha: float,
    min_effect: float,
) -> str:
    made = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = "\n".join(_row(f) for f in regressions)
    table = (
        '<table id="regressions">\n<thead><tr><th>series</th><th>serial</th><th>direction</th>'
        "<th>started</th><th>commit</th><th>before</th><th>after</th><th>p</th>"
        "<th>what else changed</th></tr></thead>\n"
        f"<tbody>\n{rows}\n</tbody></table>"
    )
    if not regressions:
        table += '\n<p id="no-regressions">No open regressions.</p>'
    trends = "\n".join(
        f'<figure><img src="{escape(name)}" alt="trend of {escape(str(key))}">'
        f"<figcaption>{escape(str(key))}: {runs} runs</figcaption></figure>"
        for key, name, runs in figures
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>{STYLE}</style></head>
<body>
<h1>{escape(title)}</h1>
<p>Made {made}. {len(figures)} series. A change needs p &lt; {alpha:g} (Mann-Whitney U) and a
change of the median of at least {min_effect:.0%}.</p>
<h2>Open regressions ({len(regressions)})</h2>
{table}
<h2>Trends</h2>
{trends}
</body></html>
"""


def _row(finding: Finding) -> str:
    data = finding.as_json()
    cells = [
        escape(data["series"]),
        escape(data["serial"]),
        f'<td class="{data["direction"]}">{data["direction"]}</td>',
        escape(finding.run.started.strftime("%Y-%m-%d %H:%M")),
        escape((data["commit"] or "")[:12]),
        f"{data['before']:.6g}",
        f"{data['after']:.6g}",
        f"{data['p']:.2g}",
        escape(finding.what_changed()),
    ]
    return "<tr>" + "".join(c if c.startswith("<td") else f"<td>{c}</td>" for c in cells) + "</tr>"


def _slug(key: SeriesKey) -> str:
    text = re.sub(r"[^A-Za-z0-9]+", "_", f"{key.test}-{key.measurement}")[-60:]
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:10]
    return f"{text}-{digest}"
