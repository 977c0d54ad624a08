"""A page in Chromium whose charge is paid while Redis is down learns it within 60 s."""

import time

from tests.backends import own_redis  # noqa: F401  (fixture)
from tests.browser.conftest import Tab
from tests.multiprocess import create, notify, servers

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips, or fails under CI=true
    expect = None

#: The contract: a page whose charge changed while Redis was down learns it within 60 s.
LEARNS_WITHIN_MS = 60_000


def test_a_page_learns_a_payment_made_while_redis_was_down(browser, tmp_path,
                                                           own_redis):  # noqa: F811
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite'}",
           "SOCKETIO_MESSAGE_QUEUE": own_redis.url}  # PAGE_RECHECK_SECONDS: the default
    with servers(tmp_path, 2, env) as (a, b):
        context = browser.new_context(locale="pt-BR")
        try:
            tab = Tab(context.new_page(), a)
            asked = []
            tab.page.on("request", lambda request: asked.append(request.url)
                        if "/status" in request.url else None)
            payment = create(a.url)
            tab.open(payment)
            expect(tab.page.locator("#payment")).to_have_attribute("data-live", "socketio")
            recheck = int(tab.page.locator("#payment").get_attribute("data-recheck-seconds"))

            own_redis.stop()
            paid_at = time.monotonic()
            assert notify(b.url, payment)[0] == 200  # B cannot tell A's page: the bus is down

            expect(tab.page.get_by_role("heading", name="Pagamento confirmado")).to_be_visible(
                timeout=LEARNS_WITHIN_MS)
            took = time.monotonic() - paid_at
        finally:
            context.close()

    assert recheck == 25 and took < LEARNS_WITHIN_MS / 1000  # the default: 25 s, give or take
    assert asked, "the page never asked for its status: its socket could not have told it"
    assert tab.problems == [], "the page logged errors or warnings"
