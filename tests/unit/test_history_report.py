"""``speck-hil history report``: a static page a real headless Chromium renders with its
pictures and the table of open regressions, without a network."""

from __future__ import annotations

import os
import shutil

import pytest
from history_fixtures import run_record

from hil.cli import main
from hil.history.html import write_report
from hil.history.records import from_record
from hil.history.store import HistoryStore
from hil.history.synthetic import history

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
    assert "2 series" in capsys.readouterr().out
    page_file = out / "index.html"
    text = page_file.read_text()
    assert "http://" not in text and "https://" not in text  # nothing from a network
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=_chromium(),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            heading, images, rows, requested = _look(browser, page_file)
            next(out.glob("*.png")).unlink()  # the check sees a picture that does not load
            _, broken, _, _ = _look(browser, page_file)
        finally:
            browser.close()
    assert sorted(width for _, width, _ in broken)[0] == 0
    assert heading == "speck-hil history"
    assert len(images) == 2
    assert all(done and width > 100 and height > 100 for done, width, height in images)
    assert len(rows) == 1
    assert "delay_max" in rows[0] and "worse" in rows[0]
    assert all(url.startswith("file://") for url in requested)


def _look(browser, page_file):
    """The page's heading, its images (complete, width, height), the regression table's
    rows, and every URL it requested."""
    page = browser.new_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(page_file.as_uri(), wait_until="load")
    images = page.eval_on_selector_all(
        "img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
    )
    rows = page.eval_on_selector_all("#regressions tbody tr", "rows => rows.map(r => r.innerText)")
    heading = page.inner_text("h1")
    page.close()
    return heading, images, rows, requested


def test_a_quiet_history_says_so(tmp_path):
    with HistoryStore(str(tmp_path / "h.sqlite")) as store:
        for night in range(10):
            store.append(from_record(run_record([{"name": "x", "value": 1.0}], night)))
        page = write_report(tmp_path / "r", store.all_points())
    text = page.read_text()
    assert 'id="no-regressions"' in text and "<tbody>\n\n</tbody>" in text
