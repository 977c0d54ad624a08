"""The real server: ``python app.py`` on eventlet serves the whole flow."""


from tests.live import call


def test_python_app_py_creates_and_confirms(live_server):
    status, created = call(live_server.url + "/payments/pix", "POST", {"value": 1500.50})
    payment = created["payment"]
    confirm = {"bank_payment_id": payment["bank_payment_id"], "value": 1500.50}
    confirmed_status, confirmed = call(live_server.url + "/payments/pix/confirmation", "POST",
                                       confirm)

    assert status == 201
    assert confirmed_status == 200
    assert confirmed["payment"]["status"] == "paid"
    assert "Traceback" not in live_server.log()
