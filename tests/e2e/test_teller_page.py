"""The teller page in a real headless Chromium: each counter flow, clicked through, checked
on the page and in the device's log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from support.browser import start_chromium, wait_for
from support.edge_http import LiveApi, issue

from edge_agent.app.agent import EdgeAgent
from edge_agent.app.token import make_token, stored_digest

COOP = "6402031001-TG"  # Kutai Kartanegara (village code made up within 6402)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    driver = start_chromium()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[EdgeAgent]:
    with EdgeAgent.init(tmp_path / "kasir", COOP, "tg-kasir-1") as a:
        yield a


@pytest.fixture
def page(browser: WebDriver, agent: EdgeAgent, tmp_path: Path) -> Iterator[Page]:
    with LiveApi(agent) as api:
        page = Page(browser, api, tmp_path)
        page.open()
        yield page
        page.shot("last")


class Page:
    """The teller page of one device, in the module's browser."""

    def __init__(self, driver: WebDriver, api: LiveApi, shots: Path) -> None:
        self.driver = driver
        self.api = api
        self.shots = shots

    def open(self) -> None:
        self.driver.execute_script("try { sessionStorage.clear() } catch (e) {}")
        self.driver.get(self.api.url + "/")
        wait_for(
            self.driver, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-siap")
        )

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def click(self, css: str) -> None:
        """Click ``css``, found afresh if the page re-drew it meanwhile."""

        def clicked(d: WebDriver) -> bool:
            try:
                d.find_element(By.CSS_SELECTOR, css).click()
            except StaleElementReferenceException:
                return False
            return True

        wait_for(self.driver, clicked)

    def text(self, css: str) -> str:
        return wait_for(self.driver, lambda d: d.find_element(By.CSS_SELECTOR, css).text)  # type: ignore[no-any-return]

    def tab(self, name: str) -> None:
        self.find(f'nav button[data-tab="{name}"]').click()
        wait_for(self.driver, lambda d: self.find(f"#tab-{name}").is_displayed())

    def fill(self, form: str, **values: str) -> None:
        for name, value in values.items():
            field = self.find(f'{form} [name="{name}"]')
            if field.tag_name == "select":
                field.find_element(By.CSS_SELECTOR, f'option[value="{value}"]').click()
            elif field.get_attribute("type") == "date":
                self.driver.execute_script("arguments[0].value = arguments[1]", field, value)
            else:
                field.clear()
                field.send_keys(value)

    def submit(self, form: str) -> None:
        before = self.driver.execute_script("return document.querySelector('#pesan').textContent")
        self.find(f"{form} button[type=submit]").click()
        self.wait_message(changed_from=before)

    def wait_message(self, changed_from: str | None = None) -> str:
        def shown(d: WebDriver) -> str | None:
            box = d.find_element(By.CSS_SELECTOR, "#pesan")
            text = box.text
            return text if box.is_displayed() and text and text != changed_from else None

        return wait_for(self.driver, shown)  # type: ignore[no-any-return]

    @property
    def message(self) -> str:
        return self.find("#pesan").text

    def shot(self, name: str) -> None:
        self.driver.save_screenshot(str(self.shots / f"{name}.png"))


def logged(agent: EdgeAgent, event_type: str) -> list[dict[str, Any]]:
    return [e.payload for e in agent.log() if e.envelope.type == event_type]


SITI = {
    "nik": "6402031204880001",
    "kk_no": "6402030101090003",
    "name": "Siti Rahmawati",
    "birth_date": "1988-04-12",
    "desa_code": "6402031001",
    "phone": "+6281234567890",
}


def test_find_or_register_a_member(page: Page, agent: EdgeAgent) -> None:
    """An unknown NIK is offered for registration; registered, the member is found by NIK;
    the same NIK again is refused in words."""
    page.fill("#form-cari", nik=SITI["nik"])
    page.find("#form-cari button").click()
    assert "Belum terdaftar" in page.text("#anggota-kosong")
    assert page.find('#form-daftar [name="nik"]').get_attribute("value") == SITI["nik"]
    page.fill("#form-daftar", **{k: v for k, v in SITI.items() if k != "nik"})
    page.submit("#form-daftar")
    assert page.message.startswith("Anggota terdaftar: M-")
    member_id = page.message.split(": ")[1]
    assert page.text("#anggota-nama") == "Siti Rahmawati"
    assert page.text("#anggota-total") == "Rp0"
    [registered] = logged(agent, "MemberRegistered")
    assert registered["nik"] == SITI["nik"] and registered["birth_date"] == "1988-04-12"
    # A loan paid out two years ago and never repaid: the statement shows its arrears.
    loan = {"member_id": member_id, "amount_requested": 1_200_000, "loan_id": "L-1",
            "purpose": "modal warung", "tenor_months": 12}  # fmt: skip
    page.api.ok("/v1/loans", loan)
    page.api.ok("/v1/loans/L-1/approval", {"principal": 1_200_000, "rate_bp": 1200,
                "method": "flat", "tenor_months": 12, "first_due": "2025-01-05"})  # fmt: skip
    page.api.ok("/v1/loans/L-1/disbursements", {"amount": 1_200_000, "disbursed_on": "2024-12-05"})
    page.driver.refresh()
    page.open()
    page.fill("#form-cari", nik=SITI["nik"])
    page.find("#form-cari button").click()
    assert page.text("#anggota-id") == member_id
    owed = page.text(".pinjaman")
    assert "sisa pokok Rp1.200.000" in owed and "tunggakan" in owed and "Rp1.344.000" in owed
    page.fill("#form-daftar", **SITI)
    page.submit("#form-daftar")
    assert "NIK sudah terdaftar" in page.message
    page.shot("anggota")
    assert len(logged(agent, "MemberRegistered")) == 1


def test_member_credit_is_shown_and_paid_back(page: Page, agent: EdgeAgent) -> None:
    """A member who bought on member credit is shown what she owes; paying more is refused
    in words; paying it all is recorded and the statement follows."""
    page.api.ok("/v1/members", SITI | {"member_id": "M-siti"})
    page.api.ok("/v1/stock/receipts", {"sku": "GULA-1KG", "qty": 5, "supplier": "UD",
                                       "doc_no": "SJ-1"})  # fmt: skip
    page.api.ok("/v1/sales", {"lines": [{"sku": "GULA-1KG", "qty": 2, "unit_price": 18_500}],
                              "payments": [{"method": "member_credit", "amount": 37_000}],
                              "member_id": "M-siti"})  # fmt: skip
    page.fill("#form-cari", nik=SITI["nik"])
    page.find("#form-cari button").click()
    assert page.text("#anggota-kredit") == "Rp37.000"
    assert page.find('#form-kredit [name="member_id"]').get_attribute("value") == "M-siti"
    page.fill("#form-kredit", amount="40.000", receipt_no="KW-0101")
    page.submit("#form-kredit")
    assert page.message.startswith("Ditolak: Pembayaran melebihi kredit anggota")
    page.fill("#form-kredit", amount="37.000", receipt_no="KW-0102")
    page.submit("#form-kredit")
    assert page.message == "Pembayaran kredit Rp37.000 tercatat."
    wait_for(page.driver, lambda d: page.text("#anggota-kredit") == "Rp0")
    page.shot("kredit")
    repaid = [(p["amount"], p["receipt_no"]) for p in logged(agent, "MemberCreditRepaid")]
    assert repaid == [(37_000, "KW-0102")]


def test_deposit_and_withdraw(page: Page, agent: EdgeAgent) -> None:
    """Open an account, deposit Rp150.000, be refused a withdrawal beyond the balance in
    words, withdraw Rp50.000: the passbook and the log agree."""
    page.api.ok("/v1/members", SITI | {"member_id": "M-siti"})
    page.fill("#form-buka", member_id="M-siti", product="SUKARELA")
    page.submit("#form-buka")
    account = page.message.split(": ")[1]
    page.tab("simpanan")
    assert page.find("#rekening-id").get_attribute("value") == account
    page.fill("#form-setor", amount="150.000", receipt_no="KW-0001")
    page.submit("#form-setor")
    assert page.message == "Setoran Rp150.000 tercatat."
    wait_for(page.driver, lambda d: page.text("#saldo") == "Rp150.000")
    page.fill("#form-tarik", amount="200000", receipt_no="KW-0002")
    page.submit("#form-tarik")
    assert page.message.startswith("Ditolak: Saldo tidak cukup")
    page.fill("#form-tarik", amount="50.000", receipt_no="KW-0003")
    page.submit("#form-tarik")
    wait_for(page.driver, lambda d: page.text("#saldo") == "Rp100.000")
    rows = page.driver.find_elements(By.CSS_SELECTOR, "#buku tbody tr")
    assert [r.find_elements(By.TAG_NAME, "td")[3].text for r in rows] == [
        "Rp100.000",
        "Rp150.000",
        "Rp0",
    ]
    page.shot("simpanan")
    assert [p["amount"] for p in logged(agent, "SavingsDeposited")] == [150_000]
    assert [p["receipt_no"] for p in logged(agent, "SavingsWithdrawn")] == ["KW-0003"]


def test_sale_with_stock_check(page: Page, agent: EdgeAgent) -> None:
    """The cart shows each line's stock; a line beyond stock is refused in words; the sale
    without it is recorded and the stock table follows."""
    page.api.ok("/v1/prices", {"sku": "GULA-1KG", "unit_price": 18_500})
    page.api.ok("/v1/prices", {"sku": "LPG-3KG", "unit_price": 20_000})
    page.api.ok(
        "/v1/stock/receipts", {"sku": "GULA-1KG", "qty": 20, "supplier": "UD", "doc_no": "SJ-1"}
    )
    page.tab("penjualan")
    wait_for(page.driver, lambda d: "Rp18.500" in page.text("#tabel-stok"))
    for sku, qty in (("GULA-1KG", "2"), ("LPG-3KG", "3")):
        page.fill("#form-baris", sku=sku, qty=qty)
        page.find("#form-baris button").click()
    cells = "#keranjang tbody td:nth-child(5)"
    checks = wait_for(
        page.driver, lambda d: [c.text for c in d.find_elements(By.CSS_SELECTOR, cells)]
    )
    assert checks == ["cukup", "kurang (ada 0)"]
    assert page.text("#total") == "Rp97.000"
    page.submit("#form-jual")
    assert page.message.startswith("Ditolak: Stok tidak cukup")
    page.click("#keranjang tbody tr:nth-child(2) button")
    assert page.text("#total") == "Rp37.000"
    page.submit("#form-jual")
    assert page.message.startswith("Penjualan SL-") and page.message.endswith("Rp37.000.")
    wait_for(
        page.driver,
        lambda d: page.find('#tabel-stok tr[data-sku="GULA-1KG"] td:nth-child(3)').text == "18",
    )
    page.shot("penjualan")
    [sale] = logged(agent, "SaleRecorded")
    assert sale["lines"] == [{"sku": "GULA-1KG", "qty": 2, "unit_price": 18_500}]
    assert sale["payments"] == [{"method": "cash", "amount": 37_000}]


def test_redeem_aid_with_refusals_in_words(page: Page, agent: EdgeAgent) -> None:
    """A card's entitlements are redeemed by a click; a second redemption, a blocked card and
    an exhausted allowance are refused in words; the log holds each redemption once."""
    grant = {"beneficiary_id": "B-1", "program": "BLT", "cycle": "2026-11"}
    issue(
        agent,
        ("CardIssued", "KHBS-1", {"beneficiary_id": "B-1"}),
        ("CardIssued", "KHBS-2", {"beneficiary_id": "B-1"}),
        ("CardBlocked", "KHBS-2", {"reason": "kartu hilang"}),
        ("EntitlementGranted", "ENT-1", grant | {"card_uid": "KHBS-1", "value": 300_000}),
        ("EntitlementGranted", "ENT-2", grant | {"card_uid": "KHBS-1", "value": 200_000}),
        ("EntitlementGranted", "ENT-3", grant | {"card_uid": "KHBS-1", "value": 100_000}),
        ("EntitlementGranted", "ENT-9", grant | {"card_uid": "KHBS-2", "value": 300_000}),
        (
            "RedemptionAllowanceAllocated",
            "ALW-1",
            {"scope": "COOP", "program": "BLT", "cycle": "2026-11", "max_count": 2}
            | {"max_value": 1_000_000},
        ),
    )
    page.tab("bantuan")
    wait_for(page.driver, lambda d: "ALW-1" in page.text("#tabel-jatah"))

    def card(uid: str) -> None:
        page.fill("#form-kartu", card_uid=uid)
        page.find("#form-kartu button").click()
        wait_for(page.driver, lambda d: d.find_elements(By.CSS_SELECTOR, f'[data-kartu="{uid}"]'))

    def take(entitlement: str) -> str:
        before = page.message
        page.click(f'tr[data-hak="{entitlement}"] button.ambil')
        return page.wait_message(changed_from=before)

    card("KHBS-1")
    assert page.text("#kartu-status") == "Aktif"
    assert page.text("#kartu-sisa") == "Rp600.000"
    assert take("ENT-1") == "Bantuan ENT-1 diserahkan: Rp300.000."
    wait_for(page.driver, lambda d: page.text("#kartu-sisa") == "Rp300.000")
    assert take("ENT-1").startswith("Ditolak: Bantuan ini sudah diambil")
    assert take("ENT-2") == "Bantuan ENT-2 diserahkan: Rp200.000."
    assert take("ENT-3").startswith("Ditolak: Jatah penyaluran sudah habis")
    wait_for(page.driver, lambda d: page.find("#tabel-jatah .sisa-kali").text == "0")
    card("KHBS-2")
    assert page.text("#kartu-status") == "Diblokir (kartu hilang)"
    assert take("ENT-9").startswith("Ditolak: Kartu KHBS diblokir")
    page.shot("bantuan")
    redeemed = [e.envelope.aggregate_id for e in agent.log() if e.envelope.type == "AidRedeemed"]
    assert redeemed == ["ENT-1", "ENT-2"]


def test_sync_status(page: Page, agent: EdgeAgent) -> None:
    """The sync tab shows what waits for the central, that it was never reached, no siblings."""
    for price in (18_000, 18_500):
        page.api.ok("/v1/prices", {"sku": "GULA-1KG", "unit_price": price})
    page.tab("sinkron")
    assert page.text("#s-perangkat") == "tg-kasir-1"
    assert page.text("#s-menunggu") == "2"
    assert page.text("#s-konfirmasi") == "0"
    assert page.text("#s-kontak") == "belum pernah"
    assert page.text("#s-saudara") == "tidak ada"
    page.shot("sinkron")


def test_a_lan_bind_asks_for_the_token_once(
    browser: WebDriver, agent: EdgeAgent, tmp_path: Path
) -> None:
    """Served beyond loopback, the page asks for the device token, then works with it."""
    token = make_token(agent.data_dir)
    with LiveApi(
        agent, "0.0.0.0", token_digest=stored_digest(agent.data_dir), loopback=False
    ) as lan:
        page = Page(browser, lan, tmp_path)
        browser.get(lan.url + "/")
        browser.execute_script("sessionStorage.clear()")
        page.open()
        wait_for(browser, lambda d: page.find("#token").is_displayed())
        page.find("#token-isi").send_keys(token)
        page.find("#form-token button").click()
        wait_for(browser, lambda d: "tg-kasir-1" in page.find("#perangkat").text)
        assert not page.find("#token").is_displayed()
        page.shot("token")
