"""Every state of the customer's page, on a phone and on a desktop: what it says, where
the copy button is, accessibility (axe-core) and a screenshot of each."""

import json
import time
from contextlib import contextmanager

import pytest

from tests.browser.conftest import Tab
from tests.live import ROOT, call

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips, or fails under CI=true
    expect = None

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"

#: Viewports of the layout promises: a phone (touch, narrow) and a desktop (mouse, wide).
SIZES = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}

#: The merchant's text at its longest (140 characters): the worst case for the first screenful.
DESCRIPTION = ("Pedido PED-1: 2 camisetas básicas tamanho M, 1 calça jeans slim, frete expresso "
               "para São Paulo e embalagem para presente com cartão e laços.")
RETURN_URL = "https://loja.example/pedido/1"

#: Headline of each page.
HEADINGS = {
    "pending": "Pague com Pix",
    "paid": "Pagamento confirmado",
    "refused": "Pagamento recusado",
    "refunded": "Pagamento estornado",
    "expired": "Este Pix expirou",
    "canceled": "Cobrança cancelada",
    "notfound": "Pagamento não encontrado",
}
FINAL = ["paid", "refused", "refunded", "expired", "canceled"]
STATES = ["pending", *FINAL, "notfound"]
UNKNOWN_ID = "unknown-id-0000000000"

#: Shortest life the test gives its expired charge, in seconds.
EXPIRES_IN = 10


def api(server, path: str, body: dict | None = None, expected: int = 200) -> dict:
    """Call the live server's JSON API and return the answer; fail on another status."""
    status, answer = call(server.url + path, "POST" if body is not None else "GET", body)
    assert status == expected, (path, status, answer)
    return answer


def new_charge(server, **fields) -> dict:
    """Create a charge as a shop would (description, return URL, ...); return the merchant view."""
    body = {"value": 150.5, "description": DESCRIPTION, "return_url": RETURN_URL,
            "external_id": "PED-1", "metadata": {"order": "1"}, **fields}
    return api(server, "/payments/pix", body, expected=201)["payment"]


def notify(server, charge: dict, status: str = "approved") -> dict:
    """Play the bank: approve, refuse or refund ``charge``."""
    return api(server, "/payments/pix/confirmation",
               {"bank_payment_id": charge["bank_payment_id"], "value": charge["value"],
                "status": status})


def wait_for_status(server, charge: dict, status: str, within: float = 30) -> None:
    """Wait (long polling the status route) until ``charge`` has ``status``."""
    deadline = time.monotonic() + within
    known = charge["status"]
    while time.monotonic() < deadline:
        current = api(server, f"/payments/pix/{charge['id']}/status?wait=5&status={known}")
        if current["status"] == status:
            return
        known = current["status"]
    pytest.fail(f"the charge did not become {status} within {within} s")


@pytest.fixture(scope="module")
def charges(server) -> dict[str, dict]:
    """One charge in each state (merchant views), made once for the module.

    The expired one is made first with a short life, so that its expiry runs out while
    the others are made; the fixture waits for it last.
    """
    made = {"expired": new_charge(server, expires_in=EXPIRES_IN)}
    made["pending"] = new_charge(server)
    made["paid"] = new_charge(server)
    notify(server, made["paid"])
    made["refused"] = new_charge(server)
    notify(server, made["refused"], "refused")
    made["refunded"] = new_charge(server)
    notify(server, made["refunded"])
    notify(server, made["refunded"], "refunded")
    made["canceled"] = new_charge(server)
    api(server, f"/payments/pix/{made['canceled']['id']}/cancel", {})
    wait_for_status(server, made["expired"], "expired", within=EXPIRES_IN + 20)
    return made


def page_path(charges: dict[str, dict], state: str) -> str:
    return f"/payments/pix/{UNKNOWN_ID}" if state == "notfound" else charges[state]["page_url"]


@contextmanager
def sized_tab(browser, server, size: str, bypass_csp: bool = False):
    """A fresh page at one of SIZES; it must log no console error or warning."""
    context = browser.new_context(locale="pt-BR", bypass_csp=bypass_csp,
                                  permissions=["clipboard-read", "clipboard-write"],
                                  **SIZES[size])
    context.set_default_timeout(15_000)
    try:
        tab = Tab(context.new_page(), server)
        yield tab
    finally:
        context.close()
    assert tab.problems == [], "the page logged errors or warnings"


def open_state(tab: Tab, charges: dict[str, dict], state: str) -> None:
    """Open the page of ``state`` and wait until it is settled (script started, image loaded)."""
    if state == "notfound":
        tab.expect_blocked(UNKNOWN_ID)  # the browser reports the page's own 404 status
    tab.page.goto(tab.server.url + page_path(charges, state))
    expect(tab.page.get_by_role("heading", level=1, name=HEADINGS[state])).to_be_visible()
    if state == "pending":
        expect(tab.page.locator("#payment")).to_have_attribute("data-live", "socketio")
        expect(tab.page.locator("#countdown")).to_be_visible()
        tab.page.wait_for_function(
            "() => { const img = document.querySelector('.qr__image');"
            " return img && img.complete && img.naturalWidth > 0; }")


def in_viewport(box: dict, viewport: dict) -> bool:
    return (box is not None and box["x"] >= 0 and box["y"] >= 0
            and box["x"] + box["width"] <= viewport["width"]
            and box["y"] + box["height"] <= viewport["height"])


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("state", STATES)
def test_each_state_page_renders_under_the_csp(browser, server, charges, state, size):
    """Under the real CSP (any blocked inline style or script is a console error): the
    headline, the test-environment notice, the description and the way back to the shop."""
    with sized_tab(browser, server, size) as tab:
        open_state(tab, charges, state)
        page = tab.page

        notice = page.get_by_role("complementary", name="Ambiente de teste")
        expect(notice).to_be_visible()
        expect(notice).to_contain_text("não pague com dinheiro de verdade")
        heading_or_amount = page.locator(".amount" if state == "pending" else "h1")
        assert notice.bounding_box()["y"] < heading_or_amount.bounding_box()["y"]

        back = page.get_by_role("link", name="Voltar para a loja")
        if state in FINAL:
            expect(page.locator("#payment")).to_contain_text(DESCRIPTION)
            expect(back).to_be_visible()
            expect(back).to_have_attribute("href", RETURN_URL)
            assert "noopener" in back.get_attribute("rel").split()
            assert back.get_attribute("target") is None  # same tab
        else:
            expect(back).to_have_count(0)
        width = SIZES[size]["viewport"]["width"]
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scroll
        tab.screenshot(f"{state}-{size}")


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("state", STATES)
def test_each_state_page_has_no_serious_accessibility_violation(
        browser, server, charges, state, size):
    """axe-core finds nothing "serious" or "critical" (the CSP is bypassed to inject it)."""
    with sized_tab(browser, server, size, bypass_csp=True) as tab:
        open_state(tab, charges, state)
        tab.page.add_script_tag(path=str(AXE))
        results = tab.page.evaluate("axe.run(document, {resultTypes: ['violations']})")

    violations = [{"id": v["id"], "impact": v["impact"], "help": v["help"],
                   "targets": [node["target"] for node in v["nodes"]]}
                  for v in results["violations"]]
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    print(f"axe {state} {size}: {json.dumps(violations, ensure_ascii=False)}")
    assert serious == [], json.dumps(serious, indent=2, ensure_ascii=False)


def brcode_fields(code: str) -> dict[str, str]:
    """Return the top-level TLV fields of a BR Code (id -> value)."""
    fields, at = {}, 0
    while at < len(code):
        field_id, length = code[at:at + 2], int(code[at + 2:at + 4])
        fields[field_id] = code[at + 4:at + 4 + length]
        at += 4 + length
    return fields


@pytest.mark.parametrize("size", SIZES)
def test_copy_button_is_in_the_first_screenful_and_the_code_is_whole(
        browser, server, charges, size):
    """The worst case: the sandbox notice and a 140-character description above it."""
    assert len(DESCRIPTION) == 140  # the longest a shop may send
    charge = charges["pending"]
    viewport = SIZES[size]["viewport"]
    with sized_tab(browser, server, size) as tab:
        open_state(tab, charges, "pending")
        page = tab.page

        button = page.get_by_role("button", name="Copiar código")
        assert in_viewport(button.bounding_box(), viewport), button.bounding_box()

        code = page.locator("#pix-code")
        assert code.text_content().strip() == charge["pix_code"]
        # Nothing hides a part of it: no clipping, no ellipsis, no scrolling box.
        hidden = page.evaluate("""() => {
            const found = [];
            for (let el = document.getElementById('pix-code'); el && el !== document.body;
                 el = el.parentElement) {
              const style = getComputedStyle(el);
              if (style.textOverflow === 'ellipsis') found.push('ellipsis');
              if (['hidden', 'clip', 'scroll', 'auto'].some(v => style.overflowX === v
                                                          || style.overflowY === v)
                  && (el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight))
                found.push('overflow ' + el.className);
              if (style.whiteSpace === 'nowrap' || style.whiteSpace === 'pre') found.push('nowrap');
            }
            return found; }""")
        assert hidden == []
        box = code.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]

        # What the customer compares with the bank app: the BR Code's own name and city.
        fields = brcode_fields(charge["pix_code"])
        receiver = page.locator(".receiver")
        expect(receiver).to_contain_text(fields["59"])
        expect(receiver).to_contain_text(fields["60"])
        expect(page.locator(".payment__header")).to_contain_text(DESCRIPTION)

        qr = page.locator(".qr__image")
        expect(qr).to_have_attribute("src", f"/payments/pix/{charge['id']}/qr.png")
        if size == "desktop":  # QR code and copy block side by side, both in the first screenful
            qr_box, copy_box = qr.bounding_box(), page.locator(".pay-method--copy").bounding_box()
            assert qr_box["x"] + qr_box["width"] <= copy_box["x"]
            assert qr_box["y"] < copy_box["y"] + copy_box["height"]
            assert in_viewport(qr_box, viewport), qr_box


def test_page_reloads_into_the_canceled_page_when_the_shop_cancels(browser, server):
    charge = new_charge(server)
    with sized_tab(browser, server, "phone") as tab:
        tab.open(charge)
        root = tab.page.locator("#payment")
        expect(root).to_have_attribute("data-live", "socketio")
        assert "canceled" in root.get_attribute("data-statuses").split()
        assert "canceled" not in root.get_attribute("data-live-statuses").split()

        api(server, f"/payments/pix/{charge['id']}/cancel", {})

        expect(tab.page.get_by_role("heading", name="Cobrança cancelada")).to_be_visible(
            timeout=5_000)
        expect(tab.page.locator("#payment")).to_contain_text("Não pague este Pix")


def test_without_description_or_return_url_the_pages_leave_them_out(browser, server):
    charge = api(server, "/payments/pix", {"value": 10}, expected=201)["payment"]
    with sized_tab(browser, server, "phone") as tab:
        tab.open(charge)
        expect(tab.page.get_by_role("heading", name="Pague com Pix")).to_be_visible()
        expect(tab.page.locator(".purpose")).to_have_count(0)
        notify(server, charge)
        expect(tab.page.get_by_role("heading", name="Pagamento confirmado")).to_be_visible()
        expect(tab.page.get_by_text("Descrição", exact=True)).to_have_count(0)
        expect(tab.page.get_by_role("link", name="Voltar para a loja")).to_have_count(0)


def test_the_generic_not_found_page_shows_the_test_notice_too(browser, server):
    with sized_tab(browser, server, "phone") as tab:
        tab.expect_blocked(r"/nao-existe$")
        tab.page.goto(server.url + "/nao-existe")
        expect(tab.page.get_by_role("heading", name="Página não encontrada")).to_be_visible()
        expect(tab.page.get_by_role("complementary", name="Ambiente de teste")).to_be_visible()
