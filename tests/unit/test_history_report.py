"""``speck-hil history report``: a static page a real headless Chromium renders with its
pictures and the table of open regressions, without a network."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil

import pytest
from history_fixtures import START, run_record

from hil.cli import main
from hil.history.html import write_report
from hil.history.records import from_record
from hil.history.store import HistoryStore
from hil.history.synthetic import generate, history

TEST = "tests/hil/test_net.py::test_gesture"


def _chromium() -> str:
    found = os.environ.get("HIL_TEST_CHROMIUM") or shutil.which("chromium")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI has no chromium: .ci/run installs Debian's chromium")
        pytest.skip("no chromium here (.ci/run installs Debian's chromium)")
    return found


def _history(db) -> None:
    shifted, quiet = history("shift", seed=4), history("noise", seed=8)
    with HistoryStore(str(db)) as store:
        for night in range(60):
            measurements = [
                {
                    "name": "delay_max",
                    "value": float(shifted[night]),
                    "upper": 200.0,
                    "marginal": 20.0,
                },
                {"name": "synops_core0", "value": float(quiet[night]), "unit": "SynOps/s"},
            ]
            store.append(from_record(run_record(measurements, night)))


@pytest.mark.slow
def test_the_report_renders_in_headless_chromium(tmp_path, capsys):
    from playwright.sync_api import sync_playwright

    db = tmp_path / "h.sqlite"
    _history(db)
    out = tmp_path / "report"
    assert main(["history", "report", "--db", str(db), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "2 series" in captured.out
    assert "report: picture 1 of 1" in captured.err  # progress while it is made
    page_file = out / "index.html"
    text = page_file.read_text()
    assert "http://" not in text and "https://" not in text  # nothing from a network
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=_chromium(),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            seen = _look(browser, page_file)
            next(out.glob("*.png")).unlink()  # the check sees a picture that does not load
            broken = _look(browser, page_file)
        finally:
            browser.close()
    assert sorted(width for _, width, _ in broken["images"])[0] == 0
    assert seen["heading"] == "speck-hil history"
    [image] = seen["images"]  # a picture for the series with an incident only
    assert image[0] and image[1] > 100 and image[2] > 100
    [row] = seen["incidents"]
    assert "delay_max" in row and "open" in row and "worse" in row
    assert "setup unchanged: suspect the board" in row
    assert seen["sparklines"] == 2  # every series has one
    assert seen["linked"] and seen["target_is_picture"]  # the incident links its picture
    assert "1 open incident(s), 1 open series" in seen["gate"]
    assert all(url.startswith("file://") for url in seen["requested"])


def _look(browser, page_file) -> dict:
    """What the page shows: heading, images (complete, width, height), incident rows, the
    gate line, sparklines, and whether the incident's link leads to a picture."""
    page = browser.new_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(page_file.as_uri(), wait_until="load")
    images = page.eval_on_selector_all(
        "img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
    )
    rows = page.eval_on_selector_all("#incidents tbody tr", "rows => rows.map(r => r.innerText)")
    link = page.eval_on_selector_all(
        "#incidents tbody a",
        "links => links.map(a => document.querySelector(a.getAttribute('href') + ' img') !== null)",
    )
    seen = {
        "heading": page.inner_text("h1"),
        "images": images,
        "incidents": rows,
        "gate": page.inner_text("#gate"),
        "sparklines": page.eval_on_selector_all("svg.spark", "s => s.length"),
        "linked": bool(link),
        "target_is_picture": all(link),
        "requested": requested,
    }
    page.close()
    return seen


def test_a_quiet_history_says_so(tmp_path):
    with HistoryStore(str(tmp_path / "h.sqlite")) as store:
        for night in range(10):
            store.append(from_record(run_record([{"name": "x", "value": 1.0}], night)))
        page = write_report(tmp_path / "r", store.load())
    text = page.read_text()
    assert 'id="no-incidents"' in text and "<tbody>\n\n</tbody>" in text
    assert not list((tmp_path / "r").glob("*.png"))


def test_a_drift_is_drawn_as_the_ramp_it_is(tmp_path, capsys):
    """A drift (61 nights of AR(1) noise drifting up over the second half) is a finding of
    kind drift whose incident starts inside the drift, and its trend picture is drawn (the
    ramp from the old level to the level it reached, not a step)."""
    values, [truth] = generate("ar1", "drift", 27)
    db = tmp_path / "h.sqlite"
    with HistoryStore(str(db)) as store:
        for night, value in enumerate(values):
            measurement = {"name": "delay_max", "value": float(value), "upper": 500.0}
            store.append(from_record(run_record([measurement], night)))
    assert main(["history", "regressions", "--db", str(db), "--format", "json"]) == 0
    [found] = json.loads(capsys.readouterr().out)
    assert (found["kind"], found["direction"]) == ("drift", "worse")
    night = (dt.datetime.fromisoformat(found["started"]) - START).days
    assert truth.first <= night <= truth.last  # the incident starts inside the drift
    assert main(["history", "report", "--db", str(db), "--out", str(tmp_path / "r")]) == 0
    [picture] = (tmp_path / "r").glob("*.png")
    assert picture.stat().st_size > 10_000
