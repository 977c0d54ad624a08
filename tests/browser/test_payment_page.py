"""The customer's page in Chromium: it learns every change, whatever the transport."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.live import LiveServer

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips, or fails under CI=true
    expect = None

#: The page must reload within 2 s of the webhook; asserted generously (loaded CI machines).
CONFIRMED_WITHIN_MS = 5_000


def confirmed(tab):
    return expect(tab.page.get_by_role("heading", name="Pagamento confirmado"))


def live_channel(tab):
    return expect(tab.page.locator("#payment"))


def test_pending_page_turns_confirmed_over_websocket(tab, create, confirm):
    websockets = []
    tab.page.on("websocket", lambda ws: websockets.append(ws.url))
    payment = create()
    tab.open(payment)
    live_channel(tab).to_have_attribute("data-live", "socketio")
    tab.screenshot("pending")

    confirm(payment)

    confirmed(tab).to_be_visible(timeout=CONFIRMED_WITHIN_MS)
    assert any("/socket.io/" in url and "transport=websocket" in url for url in websockets)
    tab.screenshot("paid")


def block_websocket(tab) -> list[str]:
    """Refuse every WebSocket, as a proxy that does not pass them would; return the attempts."""
    attempts = []

    def refuse(ws):
        attempts.append(ws.url)
        ws.close(code=1008, reason="blocked by the test's proxy")

    tab.page.route_web_socket("**/socket.io/**", refuse)
    return attempts


def test_without_websocket_socketio_long_polling_brings_the_change(tab, create, confirm):
    attempts = block_websocket(tab)
    payment = create()
    tab.open(payment)
    live_channel(tab).to_have_attribute("data-live", "socketio")

    confirm(payment)

    confirmed(tab).to_be_visible(timeout=CONFIRMED_WITHIN_MS)
    assert attempts, "the page never tried WebSocket, so nothing was blocked"
    tab.screenshot("paid-without-websocket")


def test_without_socketio_at_all_server_sent_events_bring_the_change(tab, create, confirm):
    block_websocket(tab)
    tab.page.route("**/socket.io/**", lambda route: route.abort())
    tab.expect_blocked(r"/socket\.io/")
    payment = create()
    tab.open(payment)
    live_channel(tab).to_have_attribute("data-live", "sse")

    confirm(payment)

    confirmed(tab).to_be_visible(timeout=CONFIRMED_WITHIN_MS)
    tab.screenshot("paid-over-sse")


def test_without_socketio_and_sse_long_polling_brings_the_change(tab, create, confirm):
    block_websocket(tab)
    tab.page.route("**/socket.io/**", lambda route: route.abort())
    tab.page.route("**/events", lambda route: route.abort())
    tab.expect_blocked(r"/socket\.io/|/events$")
    payment = create()
    tab.open(payment)
    live_channel(tab).to_have_attribute("data-live", "polling")

    confirm(payment)

    confirmed(tab).to_be_visible(timeout=CONFIRMED_WITHIN_MS)
    tab.screenshot("paid-over-long-polling")


def test_countdown_moves(tab, create):
    payment = create()
    tab.open(payment)
    countdown = tab.page.locator("#countdown-time")
    expect(countdown).to_have_text(re.compile(r"^\d\d:\d\d$"))
    shown = countdown.text_content()

    expect(countdown).not_to_have_text(shown, timeout=5_000)
    tab.screenshot("countdown")


def test_copy_button_puts_the_pix_code_on_the_clipboard(tab, create):
    payment = create()
    tab.open(payment)

    tab.page.get_by_role("button", name="Copiar código").click()

    expect(tab.page.locator("#copy-feedback")).to_have_text(
        "Código copiado! Agora cole no app do seu banco.")
    assert tab.page.evaluate("navigator.clipboard.readText()") == payment["pix_code"]
    tab.screenshot("copied")


def test_page_catches_up_after_a_network_drop(tab, server, create):
    """The server goes away, the charge is confirmed meanwhile, the page reconnects and knows."""
    from payments import create_app
    from payments.charges import service as services

    payment = create()
    tab.open(payment)
    live_channel(tab).to_have_attribute("data-live", "socketio")

    server.stop()
    bank = create_app({"SQLALCHEMY_DATABASE_URI": server.env["DATABASE_URL"],
                       "SECRET_KEY": "test"}, instance_path=str(server.log_path.parent))
    with bank.app_context():
        charge = services.get_payment(payment["id"])
        services.apply_notice(charge, charge.amount_cents)
        services.db.session.commit()
        services.db.engine.dispose()
    # Every request to the server fails while it is down (reconnection attempts, and the
    # favicon if the browser had not fetched it yet); the browser reports each.
    tab.expect_blocked("^" + re.escape(server.url) + "/")
    server.start()

    expect(tab.page.get_by_role("heading", name="Pagamento confirmado")).to_be_visible(
        timeout=30_000)
    tab.screenshot("paid-after-reconnect")


@pytest.fixture
def short_lived_server(tmp_path):
    with LiveServer(tmp_path, env={"PIX_EXPIRATION_SECONDS": "3"}) as live:
        yield live


def test_expired_charge_shows_the_expired_page_by_itself(browser, short_lived_server):
    """The server pushes the expiry: the page's clock runs an hour late, so its own
    countdown is far from zero and cannot be what notices."""
    from tests.browser.conftest import Tab, post

    context = browser.new_context(locale="pt-BR")
    tab = Tab(context.new_page(), short_lived_server)
    try:
        tab.page.clock.install(time=datetime.now(UTC) - timedelta(hours=1))
        payment = post(short_lived_server.url + "/payments/pix", {"value": 10})["payment"]
        tab.open(payment)
        expect(tab.page.locator("#countdown-time")).to_have_text(re.compile(r"^1:00:0\d$"))
        live_channel(tab).to_have_attribute("data-live", "socketio")

        expect(tab.page.get_by_role("heading", name="Este Pix expirou")).to_be_visible(
            timeout=15_000)
        tab.screenshot("expired")
    finally:
        context.close()
    assert tab.problems == []
