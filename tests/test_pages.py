"""GET /payments/pix/<id>: the customer's page, in Brazilian Portuguese."""

from datetime import timedelta

import pytest

from payments.charges.models import Payment, utcnow
from payments.extensions import db
from tests.views import public


def test_pending_page_shows_amount_qr_code_and_countdown(create, client):
    payment = create(1500.50)

    response = client.get(f"/payments/pix/{payment['id']}")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert '<html lang="pt-BR"' in html
    assert "R$ 1.500,50" in html
    assert f"/payments/pix/{payment['id']}/qr.png" in html  # the public QR route
    assert payment["bank_payment_id"] not in html  # nor anything else only the merchant sees
    assert payment["pix_code"] in html
    assert "Copiar" in html
    assert payment["expiration_date"] in html  # the countdown's target


def test_page_loads_the_socketio_client_that_the_app_serves(create, client):
    payment = create()

    html = client.get(f"/payments/pix/{payment['id']}").get_data(as_text=True)
    with client.get("/vendor/socket.io.min.js") as script:
        body = script.get_data(as_text=True)

    assert '<script src="/vendor/socket.io.min.js"' in html
    assert script.status_code == 200
    assert script.mimetype == "text/javascript"
    assert "Socket.IO v4.8.3" in body[:300]


@pytest.mark.parametrize(
    ("status", "text"),
    [("paid", "Pagamento confirmado"), ("refused", "Pagamento recusado"),
     ("refunded", "Pagamento estornado"), ("expired", "expirou")],
)
def test_each_state_has_its_own_page(create, client, app, status, text):
    payment = create()
    with app.app_context():
        row = db.session.query(Payment).filter_by(public_id=payment["id"]).one()
        if status == "expired":
            row.expires_at = utcnow() - timedelta(seconds=1)
        else:
            row.status = status
        db.session.commit()

    html = client.get(f"/payments/pix/{payment['id']}").get_data(as_text=True)

    assert text in html
    assert payment["pix_code"] not in html


@pytest.mark.parametrize("payment_id", ["unknown-id-0000000000", "1", "%00", "a" * 300, "ç"])
def test_unknown_or_malformed_id_gets_our_own_404_page(client, payment_id):
    response = client.get(f"/payments/pix/{payment_id}")

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Pagamento não encontrado" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/nope", "/payments", "/payments/pix/a/b/c", "/vendor/x.js"])
def test_any_other_unknown_address_gets_the_generic_not_found_page(client, path):
    response = client.get(path, headers={"Accept": "text/html"})

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "Página não encontrada" in html
    assert "Pagamento não encontrado" not in html


def test_unknown_status_is_404_json(client):
    response = client.get("/payments/pix/unknown-id-0000000000/status")

    assert response.status_code == 404
    assert response.get_json() == {"message": "Payment not found"}


def test_status_route_returns_the_public_view(create, client):
    payment = create()

    response = client.get(f"/payments/pix/{payment['id']}/status")

    assert response.status_code == 200
    assert response.get_json() == public(payment)
    assert "bank_payment_id" not in response.get_data(as_text=True)


def test_page_is_never_cached(create, client):
    payment = create()

    response = client.get(f"/payments/pix/{payment['id']}")

    assert response.headers["Cache-Control"] == "no-store"
