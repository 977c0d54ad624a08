"""Flask sessions: lazy for requests without a cookie, Flask's own behaviour otherwise."""

from flask import session

from payments.web.sessions import LazyCookieSessionInterface


def test_a_request_without_a_session_gets_no_cookie_and_no_vary(client):
    response = client.post("/payments/pix", json={"value": 10})

    assert response.status_code == 201
    assert "Set-Cookie" not in response.headers
    assert "Vary" not in response.headers


def test_a_session_still_round_trips_through_its_signed_cookie(app, client):
    assert isinstance(app.session_interface, LazyCookieSessionInterface)

    @app.get("/_test/session/<value>")
    def remember(value):
        previous = session.get("value")
        session["value"] = value
        return {"previous": previous}

    first = client.get("/_test/session/a")
    second = client.get("/_test/session/b")

    assert first.get_json() == {"previous": None}
    assert "Set-Cookie" in first.headers and "Cookie" in first.headers["Vary"]
    assert second.get_json() == {"previous": "a"}


def test_a_tampered_cookie_gives_an_empty_session(app, client):
    @app.get("/_test/session")
    def read():
        return {"value": session.get("value")}

    client.set_cookie(app.config.get("SESSION_COOKIE_NAME", "session"), "forged.value.sig")

    assert client.get("/_test/session").get_json() == {"value": None}
