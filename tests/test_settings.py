"""Settings: sane defaults, a generated secret, and a refusal to start on bad ones."""

import pytest

from payments import create_app
from payments.settings import ConfigError
from tests.apps import app_with_tables


def make(tmp_path, **overrides):
    return app_with_tables({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite'}",
                            **overrides}, str(tmp_path))


def test_defaults_need_nothing(tmp_path, monkeypatch):
    for name in ("PIX_KEY", "PIX_MERCHANT_NAME", "PIX_MERCHANT_CITY", "PIX_MAX_VALUE",
                 "PIX_EXPIRATION_SECONDS", "SECRET_KEY", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    app = make(tmp_path)

    assert app.config["PIX_EXPIRATION_SECONDS"] == 1800
    assert app.config["PIX_MAX_CENTS"] == 100_000_000
    assert app.config["PIX_KEY"] == "123e4567-e12b-12d1-a456-426655440000"


def test_secret_key_is_generated_once_into_instance(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}, instance_path=str(tmp_path))
    second = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}, instance_path=str(tmp_path))

    assert len(first.config["SECRET_KEY"]) >= 32
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert (tmp_path / "secret_key").read_text() == first.config["SECRET_KEY"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_environment_overrides_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("PIX_KEY", "pagamentos@example.com")
    monkeypatch.setenv("PIX_EXPIRATION_SECONDS", "600")
    monkeypatch.setenv("PIX_MAX_VALUE", "500.00")

    app = make(tmp_path)

    assert app.config["PIX_KEY"] == "pagamentos@example.com"
    assert app.config["PIX_EXPIRATION_SECONDS"] == 600
    assert app.config["PIX_MAX_CENTS"] == 50000


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [("PIX_KEY", "not a key", "PIX_KEY"), ("PIX_KEY", "123.456.789-00", "PIX_KEY"),
     ("PIX_EXPIRATION_SECONDS", "soon", "PIX_EXPIRATION_SECONDS"),
     ("PIX_EXPIRATION_SECONDS", "0", "PIX_EXPIRATION_SECONDS"),
     ("PIX_MAX_VALUE", "lots", "PIX_MAX_VALUE"),
     ("PIX_MERCHANT_NAME", "  ", "PIX_MERCHANT_NAME")],
)
def test_invalid_setting_stops_the_start_with_a_clear_message(tmp_path, name, value, says):
    with pytest.raises(ConfigError, match=says):
        make(tmp_path, **{name: value})


def test_merchant_name_and_city_are_written_in_ascii(tmp_path, client):
    app = make(tmp_path, PIX_MERCHANT_NAME="Padaria São João da Praça Ltda",
               PIX_MERCHANT_CITY="Maceió")
    from payments.pix.brcode import parse_brcode

    payment = app.test_client().post("/payments/pix", json={"value": 5}).get_json()["payment"]

    code = parse_brcode(payment["pix_code"])
    assert code.name == "PADARIA SAO JOAO DA PRACA"
    assert code.city == "MACEIO"


def test_health_reports_the_database(client):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "message_queue": "disabled",
                                   "environment": "sandbox", "events_waiting": 0}


def test_the_sandbox_says_so_on_every_page_and_in_health(client, create):
    payment = create()
    health = client.get("/health").get_json()

    assert health["environment"] == "sandbox"
    for path in (f"/payments/pix/{payment['id']}", "/payments/pix/unknown-id-0000000000"):
        assert "Ambiente de teste" in client.get(path).get_data(as_text=True), path


def test_production_shows_no_test_notice(tmp_path):
    app = make(tmp_path, PAYMENTS_ENV="production", PIX_WEBHOOK_SECRET="s", SECRET_KEY="k",
               MERCHANT_API_KEYS="sk_live_" + "k" * 30, PIX_KEY="loja@example.com")
    html = app.test_client().get("/payments/pix/unknown-id-0000000000").get_data(as_text=True)

    assert "Ambiente de teste" not in html


@pytest.mark.parametrize("value", ["staging", "prod", "1"])
def test_an_unknown_environment_stops_the_start(tmp_path, value):
    with pytest.raises(ConfigError, match="PAYMENTS_ENV must be one of sandbox, production"):
        make(tmp_path, PAYMENTS_ENV=value)


def test_one_key_creates_at_least_1000_charges_a_minute_by_default(tmp_path):
    key = "sk_test_" + "r" * 30
    app = make(tmp_path, MERCHANT_API_KEYS=key)
    client = app.test_client()
    codes = [client.post("/payments/pix", json={"value": 1},
                         headers={"Authorization": f"Bearer {key}"}).status_code
             for _ in range(1001)]

    assert codes.count(201) == 1001
