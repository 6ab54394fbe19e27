"""A static HTML page of a history: incidents first, linked to their trend pictures, then
every series with an inline sparkline.

Pictures are drawn only for series with an incident (matplotlib costs a tenth of a second
and tens of kB per picture); every other series gets a sparkline of inline SVG. Everything
the page shows sits in its folder (the page and its PNGs), so it opens from a file share or
a CI artifact without a network.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections.abc import Callable
from html import escape
from pathlib import Path

import numpy as np

from hil.history.changes import ALPHA, MIN_EFFECT
from hil.history.incidents import Incident, assess
from hil.history.regressions import Finding
from hil.history.series import History, Series, SeriesKey
from hil.history.store import Acceptance
from hil.history.trend import plot_trend

STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; font-size: 0.9em; }
th { background: #eee; }
td.open { color: #b00; font-weight: bold; } td.changed { color: #b60; font-weight: bold; }
td.recovered { color: #606; } td.accepted { color: #036; }
figure { margin: 0 0 1.5em 0; } img { max-width: 100%; border: 1px solid #ddd; }
svg.spark polyline { fill: none; stroke: #27c; stroke-width: 1; }
"""


def write_report(
    folder: Path,
    history: History,
    acceptances: list[Acceptance] = (),
    title: str = "speck-hil history",
    alpha: float = ALPHA,
    min_effect: float = MIN_EFFECT,
    progress: Callable[[str], None] = lambda text: None,
) -> Path:
    """Write ``index.html`` and its pictures into ``folder``; returns the page's path.
    ``progress`` hears what is being made."""
    folder.mkdir(parents=True, exist_ok=True)
    progress(f"report: detecting changes in {len(history.series)} series")
    assessment = assess(history, acceptances, alpha, min_effect)
    by_series: dict[SeriesKey, list[Finding]] = {}
    for finding in assessment.findings:
        by_series.setdefault(finding.key, []).append(finding)
    drawn = sorted({f.key for i in assessment.incidents for f in i.findings}, key=str)
    pictures = {}
    for n, key in enumerate(drawn, start=1):
        progress(f"report: picture {n} of {len(drawn)}: {key}")
        name = f"trend-{_slug(key)}.png"
        plot_trend(folder / name, history, history.series[key], by_series.get(key, []))
        pictures[key] = name
    for stale in folder.glob("trend-*.png"):
        if stale.name not in pictures.values():
            stale.unlink()
    page = folder / "index.html"
    text = _page(title, history, assessment.incidents, by_series, pictures, alpha, min_effect)
    page.write_text(text, "utf-8")
    progress(f"report: {page} ({len(pictures)} pictures)")
    return page


def _page(
    title: str,
    history: History,
    incidents: list[Incident],
    by_series: dict[SeriesKey, list[Finding]],
    pictures: dict[SeriesKey, str],
    alpha: float,
    min_effect: float,
) -> str:
    made = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    failing = [i for i in incidents if i.fails_gate]
    rows = "\n".join(_incident_row(i, pictures) for i in incidents)
    table = (
        '<table id="incidents">\n<thead><tr><th>incident</th><th>state</th><th>direction</th>'
        "<th>board</th><th>started</th><th>commit</th><th>series</th><th>tests</th>"
        "<th>largest change</th><th>what else changed</th></tr></thead>\n"
        f"<tbody>\n{rows}\n</tbody></table>"
    )
    if not incidents:
        table += '\n<p id="no-incidents">No incidents.</p>'
    series_rows = "\n".join(
        _series_row(history, s, by_series.get(k, []), pictures.get(k))
        for k, s in history.series.items()
    )
    figures = "\n".join(
        f'<figure id="{_anchor(key)}"><img src="{escape(name)}" alt="trend of '
        f'{escape(str(key))}"><figcaption>{escape(str(key))}</figcaption></figure>'
        for key, name in pictures.items()
    )
    open_series = sum(1 for i in failing for f in i.findings if f.fails_gate)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>{STYLE}</style></head>
<body>
<h1>{escape(title)}</h1>
<p>Made {made}. {len(history.runs)} runs, {len(history.series)} series. A change needs
p &lt; {alpha:g} (a step under AR(1) noise, by generalised least squares) and a change of
at least {min_effect:.0%} where the level is far from zero.</p>
<p id="gate">Failing the gate: <b>{len(failing)} open incident(s), {open_series} open
series</b>.</p>
<h2>Incidents ({len(incidents)})</h2>
{table}
<h2>Series</h2>
<table id="series">
<thead><tr><th>series</th><th>board</th><th>runs</th><th>latest</th><th>trend</th>
<th>changes</th></tr></thead>
<tbody>
{series_rows}
</tbody></table>
<h2>Trends of the series with an incident</h2>
{figures}
</body></html>
"""


def _incident_row(incident: Incident, pictures: dict[SeriesKey, str]) -> str:
    state = incident.state
    when = ""
    if incident.closed is not None:
        when = f" {incident.closed.started:%Y-%m-%d}"
    acceptance = incident.acceptance
    if state == "accepted" and acceptance is not None:
        when = f" by {acceptance.who} {acceptance.at:%Y-%m-%d}: {acceptance.reason}"
    links = ", ".join(
        f'<a href="#{_anchor(f.key)}">{escape(f.key.measurement)}</a>'
        if f.key in pictures
        else escape(f.key.measurement)
        for f in incident.findings
    )
    largest = max(incident.findings, key=lambda f: abs(f.change.effect) if f.change.relative else 0)
    c = largest.change
    cells = [
        f'<td id="incident-{incident.id}">{incident.id}</td>',
        f'<td class="{state}">{escape(state + when)}</td>',
        f'<td class="{incident.direction}">{incident.direction}</td>',
        f"<td>{escape(incident.serial or '-')}</td>",
        f"<td>{incident.run.started:%Y-%m-%d %H:%M}</td>",
        f"<td>{escape((incident.run.git_commit or '')[:12])}</td>",
        f"<td>{len(incident.findings)}: {links}</td>",
        f"<td>{escape(', '.join(incident.tests))}</td>",
        f"<td>{escape(largest.key.measurement)} {c.before:.4g} → {c.after:.4g} "
        f"{escape(largest.unit)} ({escape(c.effect_text(largest.unit))}, p={c.p:.2g})</td>",
        f"<td>{escape(incident.what_changed())}</td>",
    ]
    return "<tr>" + "".join(cells) + "</tr>"


def _series_row(
    history: History, series: Series, findings: list[Finding], picture: str | None
) -> str:
    key = series.key
    finite = series.values[np.isfinite(series.values)]
    latest = f"{finite[-1]:.4g} {escape(series.unit)}" if len(finite) else "-"
    name = escape(key.name)
    if picture:
        name = f'<a href="#{_anchor(key)}">{name}</a>'
    changes = ", ".join(
        f"{f.state} {f.run.started:%Y-%m-%d}" + (f" [{f.incident}]" if f.incident else "")
        for f in findings
    )
    return (
        f"<tr><td>{name}</td><td>{escape(key.serial or '-')}</td><td>{len(series.values)}</td>"
        f"<td>{latest}</td><td>{_sparkline(series.values)}</td><td>{escape(changes)}</td></tr>"
    )


def _sparkline(values: np.ndarray, width: int = 120, height: int = 18) -> str:
    """An inline SVG line of the values (NaN left out)."""
    finite = np.isfinite(values)
    if finite.sum() < 2:
        return ""
    low, high = float(values[finite].min()), float(values[finite].max())
    span = high - low or 1.0
    step = width / max(len(values) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{height - 1 - (v - low) / span * (height - 2):.1f}"
        for i, v in enumerate(values)
        if math.isfinite(v)
    )
    return (
        f'<svg class="spark" width="{width}" height="{height}" role="img">'
        f'<polyline points="{points}"/></svg>'
    )


def _anchor(key: SeriesKey) -> str:
    return f"trend-{_slug(key)}"


def _slug(key: SeriesKey) -> str:
    text = re.sub(r"[^A-Za-z0-9]+", "_", f"{key.test}-{key.measurement}")[-60:]
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:10]
    return f"{text}-{digest}"
