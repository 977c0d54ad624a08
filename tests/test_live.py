"""The real server: ``python app.py`` on eventlet serves the whole flow."""

import json
import urllib.request


def call(url, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


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
