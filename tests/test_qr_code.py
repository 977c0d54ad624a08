"""GET /payments/pix/qr_code/<name>: a PNG that a bank app reads as the charge's BR Code."""

import io

import pytest
import zxingcpp
from PIL import Image


def test_qr_code_decodes_to_exactly_the_pix_code(create, client):
    payment = create(1500.50)

    response = client.get(payment["qr_code_url"])

    assert response.status_code == 200
    assert response.mimetype == "image/png"
    image = Image.open(io.BytesIO(response.data))
    results = zxingcpp.read_barcodes(image)
    assert [r.text for r in results] == [payment["pix_code"]]
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode


def test_qr_code_is_cacheable_and_revalidates(create, client):
    payment = create()
    first = client.get(payment["qr_code_url"])

    again = client.get(payment["qr_code_url"], headers={"If-None-Match": first.headers["ETag"]})

    assert "max-age" in first.headers["Cache-Control"]
    assert again.status_code == 304


@pytest.mark.parametrize(
    "name",
    [
        "qr_code_payment_5e53bbf4-cdf1-4a2f-b137-551c4b462ef1",
        "qr_code_payment_",
        "..%2F..%2Fapp.py",
        "qr_code_payment_../../etc/passwd",
        "anything.png",
    ],
)
def test_any_other_name_is_404(create, client, name):
    create()

    response = client.get(f"/payments/pix/qr_code/{name}")

    assert response.status_code == 404
    assert response.is_json


def test_no_file_is_written_per_payment(create, client, app, tmp_path):
    import os

    before = {p for p in os.listdir(app.static_folder)}
    payment = create()
    client.get(payment["qr_code_url"])

    assert {p for p in os.listdir(app.static_folder)} == before
