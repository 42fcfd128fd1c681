"""The operator console in a real headless Chromium: drill-down, resolve form, authorisation.

Screenshots of every page visited are written under each test's tmp_path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import province as P
from support.console import (
    PASSWORDS,
    Console,
    browser,
    chromium_or_skip,
    decisions,
    kopsync,
    running_console,
    session,
)

from central_projector.reporting.exports import flatten

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    chromium_or_skip()
    with running_console(tmp_path_factory.mktemp("console")) as c:
        yield c


@pytest.fixture
def driver() -> Iterator[Any]:
    chromium_or_skip()
    d: Any = browser()
    d.set_page_load_timeout(60)
    try:
        yield d
    finally:
        d.quit()


def _login(d: Any, console: Console, operator: str, shot: Path | None = None) -> None:
    d.get(f"{console.url}/login")
    if shot is not None:
        d.save_screenshot(str(shot))
    d.find_element("id", "operator_id").send_keys(operator)
    d.find_element("id", "password").send_keys(PASSWORDS[operator])
    d.find_element("id", "login-submit").click()
    _wait(d, lambda d: "/login" not in d.current_url)


def _wait(d: Any, until: Any) -> None:
    """Wait up to 30 s for ``until``; a check that lands while the browser swaps documents
    (chromedriver then answers "Node with given id does not belong to the document" instead
    of a stale element) is tried again."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(d, 30, ignored_exceptions=(WebDriverException,)).until(until)


def _click(d: Any, element: Any) -> None:
    """Click a link or button and wait for the next page (the old one goes stale)."""
    from selenium.webdriver.support import expected_conditions as ec

    element.click()
    _wait(d, ec.staleness_of(element))


def _shot(d: Any, tmp_path: Path, name: str) -> None:
    d.save_screenshot(str(tmp_path / f"{name}.png"))


def _report(console: Console, region: str, as_of: str | None = None) -> dict[str, Any]:
    dated = ("--as-of", as_of) if as_of else ()
    out = kopsync("central", "report", "--region", region, *dated, "--json",
                  "--db", console.db_url).stdout  # fmt: skip
    return dict(json.loads(out))


def _figures_on_page(d: Any) -> dict[str, int]:
    cells = d.find_elements("css selector", "section[id^=section-] td[data-figure]")
    return {c.get_attribute("data-figure"): int(c.get_attribute("data-value")) for c in cells}


def _matches(d: Any, report: dict[str, Any]) -> None:
    expected = flatten(report["figures"])
    shown = _figures_on_page(d)
    # receipt times move with every contact; everything else must be equal
    assert {k: v for k, v in shown.items() if not k.endswith("last_seen")} == {
        k: v for k, v in expected.items() if not k.endswith("last_seen")
    }


def test_drill_down_from_province_to_cooperative_matches_the_report(
    console: Console, driver: Any, tmp_path: Path
) -> None:
    """Province → regency → cooperative pages show the figures `central report --json` gives,
    in rupiah as Rp1.234.567, times in the cooperative's zone, and switch to English."""
    _login(driver, console, "siti", shot=tmp_path / "login.png")
    assert driver.current_url.endswith("/region/62")
    _shot(driver, tmp_path, "province")
    as_of = driver.find_element("id", "as_of").get_attribute("value")
    _matches(driver, _report(console, "62"))
    balance = driver.find_element(
        "css selector", "#section-savings [data-figure='savings.balance']"
    )
    assert balance.text == "Rp2.469.134"
    _click(driver, driver.find_element("css selector", "tr[data-region='6202'] a.drill"))
    assert "/region/6202" in driver.current_url
    _shot(driver, tmp_path, "regency")
    _matches(driver, _report(console, "6202", as_of))
    _click(driver, driver.find_element("css selector", f"tr[data-region='{P.BAPINANG}'] a.drill"))
    assert f"/coop/{P.BAPINANG}" in driver.current_url
    _shot(driver, tmp_path, "cooperative")
    _matches(driver, _report(console, P.BAPINANG, as_of))
    devices = driver.find_element("id", "devices").text
    assert "bph-kasir-1" in devices and "WIB" in devices
    _click(driver, driver.find_element("id", "lang-switch"))
    assert "Savings" in driver.find_element("id", "section-savings").text
    _shot(driver, tmp_path, "cooperative-en")
    _click(driver, driver.find_element("id", "lang-switch"))
    assert "Simpanan" in driver.find_element("id", "section-savings").text
    _click(driver, driver.find_element("id", "nav-sync"))
    _shot(driver, tmp_path, "sync")
    silent_first = driver.find_elements("css selector", "#sync-devices tr[data-device]")
    assert [r.get_attribute("data-device") for r in silent_first] == ["bph-kasir-1", "klp-kasir-1"]
    assert "WIB" in silent_first[0].text
    _click(driver, driver.find_element("id", "nav-replay"))
    _shot(driver, tmp_path, "replay")
    assert int(driver.find_element("id", "committed").text) > 0
    assert driver.find_element("id", "behind").text == "0"


def _conflict_id(console: Console, kind: str) -> str:
    items = json.loads(kopsync("central", "conflicts", "--json", "--db", console.db_url).stdout)
    return str(next(i["id"] for i in items if i["kind"] == kind))


def test_resolve_a_conflict_through_the_form(console: Console, driver: Any, tmp_path: Path) -> None:
    """The queue's filter finds the double redemption; the form records a ConflictResolved
    event carrying the operator, and after projection the page shows it RESOLVED."""
    cid = _conflict_id(console, "DUPLICATE_REDEMPTION")
    _login(driver, console, "siti")
    _click(driver, driver.find_element("id", "nav-conflicts"))
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", "filter-kind")).select_by_value("DUPLICATE_REDEMPTION")
    _click(driver, driver.find_element("id", "filter-submit"))
    _shot(driver, tmp_path, "queue")
    rows = driver.find_elements("css selector", "#queue tr[data-conflict]")
    assert [r.get_attribute("data-conflict") for r in rows] == [cid]
    _click(driver, rows[0].find_element("tag name", "a"))
    _shot(driver, tmp_path, "conflict")
    Select(driver.find_element("id", "decision")).select_by_value("REIMBURSE_WINNER_ONLY")
    driver.find_element("id", "note").send_keys("kartu ditempel di dua koperasi")
    _click(driver, driver.find_element("id", "resolve-submit"))
    assert driver.find_element("id", "decided").is_displayed()
    decided = decisions(console.db_url, cid)
    assert len(decided) == 1
    assert decided[0]["decision"] == "REIMBURSE_WINNER_ONLY"
    assert decided[0]["resolved_by"].startswith("siti")
    kopsync("central", "project", "--once", "--db", console.db_url)
    driver.refresh()
    _shot(driver, tmp_path, "conflict-resolved")
    assert driver.find_element("id", "conflict-status").text == "RESOLVED"
    assert driver.find_element("id", "conflict-by").text.startswith("siti")


def test_an_operator_of_64_cannot_resolve_a_conflict_of_62(
    console: Console, driver: Any, tmp_path: Path
) -> None:
    """Budi (64) gets a refusal for 62's pages and for a form aimed at 62's conflict, and
    no event is recorded; his own province's conflict shows its form."""
    cid = _conflict_id(console, "DUPLICATE_REDEMPTION")
    own = _conflict_id(console, "NEGATIVE_STOCK")
    before = len(decisions(console.db_url, cid))
    _login(driver, console, "budi")
    assert driver.current_url.endswith("/region/64")
    driver.get(f"{console.url}/region/62")
    assert "62" in driver.find_element("id", "error-message").text
    driver.get(f"{console.url}/conflicts/{cid}")
    _shot(driver, tmp_path, "refused")
    assert driver.find_elements("id", "resolve-form") == []
    # his own item's form, pointed at 62's item: the server refuses it
    driver.get(f"{console.url}/conflicts/{own}")
    driver.execute_script(
        "document.getElementById('resolve-form').action = arguments[0];",
        f"/conflicts/{cid}/resolve",
    )
    driver.find_element("id", "note").send_keys("bukan wilayah saya")
    _click(driver, driver.find_element("id", "resolve-submit"))
    _shot(driver, tmp_path, "refused-post")
    assert "62" in driver.find_element("id", "error-message").text
    assert len(decisions(console.db_url, cid)) == before


def test_http_level_authorisation_csrf_and_login(console: Console) -> None:
    """At the HTTP level: 64's operator gets 403 on 62's resolve, a missing or wrong CSRF
    token gets 403, a wrong password 401, and an anonymous page redirects to the login."""
    cid = _conflict_id(console, "DUPLICATE_REDEMPTION")
    before = len(decisions(console.db_url, cid))
    budi, token = session(console, "budi")
    form = {"csrf": token, "decision": "ACCEPT", "note": "coba"}
    assert budi.post(f"/conflicts/{cid}/resolve", data=form).status_code == 403
    assert budi.get(f"/region/{P.BAPINANG}").status_code == 403
    assert budi.get("/export/region/62.csv").status_code == 403
    siti, token = session(console, "siti")
    assert siti.post(f"/conflicts/{cid}/resolve", data=form | {"csrf": ""}).status_code == 403
    assert siti.post(f"/conflicts/{cid}/resolve", data=form | {"csrf": "x" * 43}).status_code == 403
    assert len(decisions(console.db_url, cid)) == before
    bad = siti.post(f"/conflicts/{cid}/resolve", data=form | {"csrf": token, "note": "  "})
    assert bad.status_code == 400 and "note" in bad.text
    assert siti.get("/conflicts/C-nope").status_code == 404
    here = siti.get(f"/conflicts?region=62&status=ALL&coop={P.BAPINANG}").text
    there = siti.get(f"/conflicts?region=62&status=ALL&coop={P.KALAMPANGAN}").text
    assert cid in here and cid not in there
    assert siti.get(f"/conflicts?region=62&coop={P.PASER}").status_code == 403
    anon = httpx.Client(base_url=console.url, follow_redirects=False)
    assert anon.get("/region/62").status_code == 303
    token = re.search(r'name="csrf" value="([^"]+)"', anon.get("/login").text)
    assert token is not None
    wrong = {"csrf": token.group(1), "operator_id": "siti", "password": "salah-salah-salah"}
    assert anon.post("/login", data=wrong).status_code == 401
    csv_text = siti.get("/export/region/62.csv").text
    assert csv_text.splitlines()[1].startswith("62,province,")
    assert siti.get("/healthz").status_code == 200 and anon.get("/readyz").status_code == 200
