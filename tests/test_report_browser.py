"""`egress report` in a real browser: Debian's chromium, headless, driven by selenium.

The report of the shipped policy loads with no console error and no network request,
its matrix holds exactly the cells that egress's own flows say are open (each open cell
also allowed by `query`, each closed one denied), its timeline has one marker per stage,
it prints to PDF, both languages render, and hostile policy text stays text.

Chromium runs with a fresh profile and every background service off, so that any
request seen comes from the page. Network requests are read from chromium's
performance log (the DevTools `Network.requestWillBeSent` events); a control page that
does fetch an image proves that the check sees requests.

The screenshot of the shipped policy's report is saved for each run; with
EGRESS_UPDATE_SCREENSHOT=1 it also replaces docs/report.png (shown in the README).

These tests follow the system-test gate of conftest.py: they skip with the reason when
chromium or chromedriver is missing, and fail instead under EGRESS_SYSTEM_TESTS=1.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from netaddr import IPAddress

from egress.check import validate
from egress.cli import main
from egress.flows import resolve
from egress.model import INTERNET
from egress.query import query

REPO = Path(__file__).resolve().parent.parent
SHIPPED = str(REPO / "policies" / "chu-rennes-2023" / "policy.yaml")
AT = "2023-08-20"
AT_DATE = dt.date(2023, 8, 20)
SCREENSHOT = REPO / "docs" / "report.png"

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
    "--disable-extensions", "--disable-dev-shm-usage", "--window-size=1280,1800", "--hide-scrollbars",
)

pytestmark = pytest.mark.system("chromium", "chromedriver")


@pytest.fixture(scope="module")
def browser():
    from conftest import find_program, require_system

    paths = require_system("chromium", "chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="egress-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = paths["chromium"] or find_program("chromium")
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=paths["chromedriver"]), options=options)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def write_report(folder: Path, policy: str = SHIPPED, *args: str, name: str = "report.html") -> Path:
    out = folder / name
    result = CliRunner().invoke(main, ["report", policy, "--out", str(out), "--at", AT, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def load(driver, path: Path) -> tuple[list[dict], list[str]]:
    """Open a file; return (console messages, URLs of every request the page made)."""
    driver.get_log("browser")
    driver.get_log("performance")  # drop what came before
    driver.get(path.resolve().as_uri())
    driver.execute_script("return document.readyState")
    console = driver.get_log("browser")
    requests = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requests.append(message["params"]["request"]["url"])
    return console, [url for url in requests if url != path.resolve().as_uri()]


# -- loading: no error, no request ----------------------------------------------------------


def test_the_request_check_sees_a_request(browser, tmp_path):
    """Control: a page that fetches an image is caught (else the next test proves nothing)."""
    page = tmp_path / "control.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png"></body></html>')
    _, requests = load(browser, page)
    assert "http://127.0.0.1:9/x.png" in requests


def test_shipped_report_loads_without_error_or_network_request(browser, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)  # the path as a user types it, for the screenshot
    report = write_report(tmp_path, "policies/chu-rennes-2023/policy.yaml")
    console, requests = load(browser, report)
    assert [m for m in console if m["level"] in ("SEVERE", "WARNING")] == []
    assert requests == []
    assert browser.execute_script("return document.scripts.length") == 0
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    browser.save_screenshot(str(tmp_path / "report.png"))
    png = (tmp_path / "report.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 50_000
    if os.environ.get("EGRESS_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.write_bytes(png)


# -- the matrix, cell by cell ------------------------------------------------------------


def cell_key(flow) -> tuple[str, str]:
    return (flow.target, flow.source) if flow.direction == "egress" else (flow.source, flow.target)


def first_host(networks) -> str:
    network = networks[0].to_netaddr()  # a zone's first `egress.addresses.Network`
    return str(IPAddress(network.first + (1 if network.size > 2 else 0), network.version))


def probe(policy, row: str, zone: str, port: str | None = None) -> tuple[str, str, str]:
    """A (src, dst, port) that stands for the cell: a zone address and the service's
    first destination (a name for the proxy's view), or the other way for ingress."""
    if row == INTERNET:
        return "198.51.100.7", first_host(policy.zones[zone].addresses), port or "tcp/25"
    service = policy.services[row]
    d = service.destinations[0]
    dst = str(IPAddress(d.network.first, d.network.version)) if d.kind == "address" else (
        d.value if d.kind == "host" else f"www.{d.value}")
    first = service.ports[0]
    return first_host(policy.zones[zone].addresses), dst, port or (str(first) if not first.has_ports else f"{first.proto}/{first.first}")


@pytest.mark.parametrize("stage", ["s4-outbound-mail", "s6-online-booking"])
def test_matrix_has_exactly_the_open_cells_of_the_flows(browser, tmp_path, stage):
    report = write_report(tmp_path, SHIPPED, "--stage", stage)
    load(browser, report)
    cells = browser.execute_script(
        "return Array.from(document.querySelectorAll('table.matrix td.cell')).map("
        "c => [c.dataset.row, c.dataset.zone, c.dataset.open, c.innerText,"
        " Array.from(c.querySelectorAll('.entry')).map(e => e.title)])")
    policy, _ = validate(SHIPPED, AT_DATE)
    flows = resolve(policy, stage, AT_DATE)
    rows = [INTERNET] + list(policy.services)
    assert [(r, z) for r, z, *_ in cells] == [(r, z) for r in rows for z in policy.zones]
    open_cells = {(r, z) for r, z, is_open, *_ in cells if is_open == "1"}
    assert open_cells == {cell_key(f) for f in flows.flows}
    grants_by_cell: dict[tuple[str, str], set[str]] = {}
    for f in flows.flows:
        grants_by_cell.setdefault(cell_key(f), set()).add(f.grant.id)
    for row, zone, is_open, text, titles in cells:
        if is_open == "1":
            assert set(titles) == grants_by_cell[(row, zone)]
            assert ("direct" in text or "proxy" in text) and "since #" in text  # text, not colour alone
            entry = next(f for f in flows.flows if cell_key(f) == (row, zone))
            port = str(entry.ports[0]) if not entry.ports[0].has_ports else f"{entry.ports[0].proto}/{entry.ports[0].first}"
            if entry.direction == "egress":
                src, dst, port = probe(policy, row, zone, port)
            else:
                src = "198.51.100.7" if row == INTERNET else first_host([policy.services[row].destinations[0].network])
                dst = first_host(policy.zones[zone].addresses)
            answer = query(flows, src, dst, port)
            assert answer.allowed and set(answer.grants) & grants_by_cell[(row, zone)], (row, zone, answer.text())
        elif zone != policy.proxy.zone:
            # the proxy zone reaches the web on the proxied grants' ports by design: not a grant's cell
            src, dst, port = probe(policy, row, zone)
            answer = query(flows, src, dst, port)
            assert not answer.allowed, (row, zone, answer.text())


# -- the timeline -----------------------------------------------------------------------------


def test_timeline_has_one_marker_per_stage(browser, tmp_path):
    load(browser, write_report(tmp_path))
    policy, _ = validate(SHIPPED, AT_DATE)
    markers = browser.execute_script(
        "return Array.from(document.querySelectorAll('svg.timeline g.stage-marker')).map("
        "g => [g.dataset.stage, g.querySelectorAll('circle.marker').length, g.querySelector('circle').getBBox().width])")
    assert [m[0] for m in markers] == [s.id for s in policy.stages]
    assert all(m[1] == 1 and m[2] > 0 for m in markers)
    xs = browser.execute_script(
        "return Array.from(document.querySelectorAll('svg.timeline circle.marker')).map(c => +c.getAttribute('cx'))")
    assert xs == sorted(xs)  # the shipped stages are in date order
    chosen = browser.execute_script(
        "return Array.from(document.querySelectorAll('svg.timeline circle.chosen')).map(c => c.parentNode.dataset.stage)")
    assert chosen == ["s6-online-booking"]  # the stage of the matrix, ringed
    bars = browser.execute_script("return Array.from(document.querySelectorAll('svg.timeline g.temporary')).map(g => g.dataset.grant)")
    assert bars == ["pacs-remote-support"]


# -- printing ---------------------------------------------------------------------------------


def test_prints_to_a4_pdf(browser, tmp_path):
    load(browser, write_report(tmp_path))
    result = browser.execute_cdp_cmd("Page.printToPDF", {"printBackground": True, "preferCSSPageSize": True})
    pdf = base64.b64decode(result["data"])
    (tmp_path / "report.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF-")
    boxes = re.findall(rb"/MediaBox \[0 0 ([0-9.]+) ([0-9.]+)\]", pdf)
    assert len(boxes) >= 3  # header and timeline, matrix, stages at least
    assert all(round(float(w)) == 595 and round(float(h)) == 842 for w, h in boxes)  # A4 portrait, in points


def test_chromium_print_to_pdf_command_line(tmp_path):
    """The way a user prints without a driver: `chromium --headless --print-to-pdf`."""
    import subprocess

    from conftest import require_system

    paths = require_system("chromium")
    report = write_report(tmp_path)
    pdf = tmp_path / "cli.pdf"
    subprocess.run(
        [paths["chromium"], *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--no-pdf-header-footer",
         f"--print-to-pdf={pdf}", report.resolve().as_uri()],
        check=True, capture_output=True, timeout=120)
    assert pdf.read_bytes().startswith(b"%PDF-")


# -- languages and escaping ---------------------------------------------------------------------


@pytest.mark.parametrize("lang, heading", [("en", "What is open"), ("fr", "Ce qui est ouvert")])
def test_both_languages_render(browser, tmp_path, lang, heading):
    console, requests = load(browser, write_report(tmp_path, SHIPPED, "--lang", lang))
    assert console == [] and requests == []
    assert browser.execute_script("return document.documentElement.lang") == lang
    headings = browser.execute_script("return Array.from(document.querySelectorAll('h2')).map(h => h.innerText)")
    assert any(h.startswith(heading) for h in headings)


def test_hostile_policy_text_comes_out_as_text(browser, tmp_path):
    from test_report import ESCAPING_POLICY, HOSTILE_REASON

    path = tmp_path / "escaping.yaml"
    path.write_text(ESCAPING_POLICY.replace("\\'", "''"))
    out = tmp_path / "r.html"
    result = CliRunner().invoke(main, ["report", str(path), "--out", str(out), "--at", "2024-01-10"])
    assert result.exit_code == 0, result.output
    console, requests = load(browser, out)
    assert console == [] and requests == []
    assert browser.execute_script("return document.scripts.length + document.images.length") == 0
    reasons = browser.execute_script(
        "return Array.from(document.querySelectorAll('table.flows td, table.agenda td')).map(td => td.textContent)")
    assert reasons.count(HOSTILE_REASON) == 2  # the stage table and the agenda
    assert browser.execute_script("return document.querySelectorAll('a[href^=\"http\"], i, strong, em, img').length") == 0
    bold = browser.execute_script("return Array.from(document.querySelectorAll('b')).map(b => b.textContent)")
    assert not [text for text in bold if "tags" in text or "bold" in text]
    description = browser.execute_script("return document.querySelector('.description').textContent")
    assert description == "Description with <b>tags</b> & </html>"
    assert browser.title.startswith("Egress report")


def test_report_with_blocked_and_usage_loads_cleanly(browser, tmp_path):
    from tests.test_observe import POLICY as OBSERVED, squid, ulogd

    policy = tmp_path / "policy.yaml"
    policy.write_text(OBSERVED)
    (tmp_path / "ulog.json").write_text(ulogd("10.30.0.5", "198.51.100.50", 22) + ulogd("10.100.0.7", "203.0.113.5", 443))
    (tmp_path / "access.log").write_text(squid("10.100.0.7", "www.other.example:443"))
    out = tmp_path / "r.html"
    result = CliRunner().invoke(main, [
        "report", str(policy), "--out", str(out), "--stage", "s1-open", "--at", "2024-01-01", "--lang", "fr",
        "--blocked", str(tmp_path / "ulog.json"), "--usage", str(tmp_path / "access.log")])
    assert result.exit_code == 0, result.output
    console, requests = load(browser, out)
    assert console == [] and requests == []
    rows = browser.execute_script("return document.querySelectorAll('table.blocked tbody tr, table.unused tbody tr').length")
    assert rows == 3  # two blocked flows, one unused grant
