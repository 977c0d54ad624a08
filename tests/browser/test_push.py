"""Web Push in Chromium: the button subscribes, the server pushes, the worker shows it.

Headless Chromium cannot reach a real push service, so ``PushManager.subscribe``
is stubbed to answer with a subscription at the fake push service of
``tests/push_service.py`` (whose keys the test holds). The server's push is
decrypted there, then handed to the page's service worker through the DevTools
protocol (``ServiceWorker.deliverPushMessage``), as the browser's push service
would; the test reads the notification it showed.
"""

import base64
import json
import time

import pytest

from tests.live import LiveServer
from tests.push_service import PushService, b64url, vapid_key_pair

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips, or fails under CI=true
    expect = None

BUTTON = "Avisar quando o pagamento for confirmado"


@pytest.fixture(scope="module")
def vapid_key():
    """Return the live server's VAPID key pair: (PEM, base64url public key)."""
    return vapid_key_pair()


@pytest.fixture(scope="module")
def server(tmp_path_factory, vapid_key):
    """Return a ``python app.py`` that signs pushes with ``vapid_key``."""
    env = {"VAPID_PRIVATE_KEY": vapid_key[0]}
    with LiveServer(tmp_path_factory.mktemp("push-browser"), env=env) as live:
        yield live


@pytest.fixture
def push_service(vapid_key):
    with PushService(vapid_key[1]) as service:
        yield service


def stub_push(
    page, subscription: dict | None, permission: str = "default", old_key: bool = False
) -> None:
    """Make the page's PushManager answer with ``subscription`` and permission be granted.

    ``old_key``: the browser already has a subscription, made with another server key.
    """
    page.add_init_script(f"""
        (() => {{
          const subscription = {json.dumps(subscription)};
          let permission = {json.dumps(permission)};
          window.__push = {{ subscribed: 0, key: null, unsubscribed: 0 }};
          Object.defineProperty(Notification, 'permission', {{ get: () => permission }});
          Notification.requestPermission = async () => {{
            if (permission === 'default') {{ permission = 'granted'; }}
            return permission;
          }};
          const old = {json.dumps(old_key)} ? {{
            endpoint: 'https://push.example.com/old',
            options: {{ applicationServerKey: new Uint8Array(65).fill(4).buffer }},
            unsubscribe: async () => {{ window.__push.unsubscribed += 1; return true; }},
            toJSON: () => ({{}})
          }} : null;
          PushManager.prototype.getSubscription = async () => old;
          PushManager.prototype.subscribe = async function (options) {{
            window.__push.subscribed += 1;
            window.__push.key = btoa(String.fromCharCode(
              ...new Uint8Array(options.applicationServerKey)));
            window.__push.userVisibleOnly = options.userVisibleOnly;
            return {{ endpoint: subscription.endpoint, toJSON: () => subscription }};
          }};
        }})();
    """)


def registration_id(cdp, server, timeout: float = 10) -> str:
    """Return the id of the service worker registration of ``/payments/pix/``, once active."""
    found: dict = {}

    def seen(event):
        for registration in event["registrations"]:
            if registration["scopeURL"] == server.url + "/payments/pix/":
                found["id"] = registration["registrationId"]

    cdp.on("ServiceWorker.workerRegistrationUpdated", seen)
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + timeout
    while "id" not in found and time.monotonic() < deadline:
        cdp.send("Runtime.evaluate", {"expression": "1"})  # let events arrive
        time.sleep(0.1)
    assert "id" in found, "the service worker was not registered at /payments/pix/"
    return found["id"]


NOTIFICATIONS = """navigator.serviceWorker.ready
  .then((registration) => registration.getNotifications())
  .then((shown) => shown.map((n) => ({title: n.title, body: n.body, tag: n.tag,
                                      url: n.data && n.data.url})))"""


def test_the_button_subscribes_and_the_worker_shows_the_servers_push(
    tab, server, create, confirm, push_service, vapid_key
):
    tab.page.context.grant_permissions(["notifications"], origin=server.url)
    browser = push_service.browser("chromium")
    stub_push(tab.page, browser.subscription())
    payment = create(1500.5)
    tab.open(payment)
    button = tab.page.get_by_role("button", name=BUTTON)
    expect(button).to_be_visible()

    with tab.page.expect_response(
        lambda r: r.url.endswith(f"/{payment['id']}/push") and r.request.method == "POST"
    ) as posted:
        button.click()

    assert posted.value.status == 201
    expect(tab.page.locator("#push-status")).to_contain_text("Pronto!")
    stubbed = tab.page.evaluate("window.__push")
    assert stubbed["subscribed"] == 1 and stubbed["userVisibleOnly"] is True
    # Subscribed with the server's public key.
    assert b64url(base64.b64decode(stubbed["key"])) == vapid_key[1]
    tab.screenshot("push-on")

    confirm(payment)  # the server's relay pushes to the fake service, which decrypts it
    [push] = push_service.wait_for(1)
    assert push_service.rejected == []
    assert push.payload["title"] == "Pagamento confirmado"
    assert push.payload["body"] == "Recebemos o seu Pix de R$ 1.500,50 para Loja Exemplo."
    expect(tab.page.get_by_role("heading", name="Pagamento confirmado")).to_be_visible()

    cdp = tab.page.context.new_cdp_session(tab.page)
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": server.url,
            "registrationId": registration_id(cdp, server),
            "data": json.dumps(push.payload, ensure_ascii=False),
        },
    )

    deadline = time.monotonic() + 10
    shown = []
    while not shown and time.monotonic() < deadline:
        shown = tab.page.evaluate(NOTIFICATIONS)
        time.sleep(0.1)
    assert shown == [
        {
            "title": "Pagamento confirmado",
            "body": "Recebemos o seu Pix de R$ 1.500,50 para Loja Exemplo.",
            "tag": f"payment-{payment['id']}",
            "url": server.url + payment["page_url"],
        }
    ]


def test_denied_permission_says_so_and_offers_no_button(tab, create):
    stub_push(tab.page, None, permission="denied")
    tab.open(create())

    expect(tab.page.locator("#push-status")).to_contain_text("notificações estão bloqueadas")
    expect(tab.page.get_by_role("button", name=BUTTON)).to_have_count(0)


def test_a_browser_without_push_sees_no_button(tab, create):
    tab.page.add_init_script("delete window.PushManager;")
    tab.open(create())

    expect(tab.page.get_by_role("heading", name="Pague com Pix")).to_be_visible()
    expect(tab.page.locator("#push")).to_be_hidden()
    expect(tab.page.get_by_role("button", name=BUTTON)).to_have_count(0)


def test_the_button_works_from_the_keyboard_and_keeps_the_focus(tab, server, create, push_service):
    tab.page.context.grant_permissions(["notifications"], origin=server.url)
    stub_push(tab.page, push_service.browser().subscription())
    tab.open(create())
    button = tab.page.get_by_role("button", name=BUTTON)
    expect(button).to_be_visible()

    button.focus()
    outline = button.evaluate("(b) => getComputedStyle(b).outlineStyle")
    tab.page.keyboard.press("Enter")

    assert outline != "none"  # the focus is visible
    expect(tab.page.locator("#push-status")).to_contain_text("Pronto!")
    expect(tab.page.get_by_role("button", name="Não avisar mais")).to_be_focused()
    with tab.page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
        tab.page.keyboard.press("Enter")  # and off again
    assert deleted.value.status == 204
    expect(tab.page.locator("#push-status")).to_contain_text("Aviso desativado")
    expect(button).to_be_focused()


def test_on_a_phone_the_button_is_a_large_target_below_the_code(tab, create):
    tab.page.set_viewport_size({"width": 390, "height": 844})
    stub_push(tab.page, None)
    tab.open(create())
    button = tab.page.get_by_role("button", name=BUTTON)
    expect(button).to_be_visible()

    box = button.bounding_box()
    copy = tab.page.get_by_role("button", name="Copiar código").bounding_box()

    assert box["height"] >= 44 and box["width"] >= 300  # an easy thumb target
    assert copy["y"] < box["y"]  # the code to copy comes first
    tab.screenshot("push-phone")


def test_a_subscription_made_with_another_key_is_replaced(tab, server, create, push_service):
    tab.page.context.grant_permissions(["notifications"], origin=server.url)
    stub_push(tab.page, push_service.browser().subscription(), old_key=True)
    tab.open(create())

    tab.page.get_by_role("button", name=BUTTON).click()

    expect(tab.page.locator("#push-status")).to_contain_text("Pronto!")
    stubbed = tab.page.evaluate("window.__push")
    assert stubbed["unsubscribed"] == 1 and stubbed["subscribed"] == 1
