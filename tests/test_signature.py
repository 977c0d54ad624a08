"""verify_signature(), case by case (modelled on stripe-python's tests/test_webhook.py)."""

import hashlib
import hmac

import pytest

from payments.bank.signature import SignatureError, compute, sign, verify_signature

SECRET = "whsec_test_secret"
BODY = b'{"bank_payment_id": "5e53bbf4-cdf1-4a2f-b137-551c4b462ef1", "value": 150.5}'
NOW = 1_795_000_000


def header(timestamp=NOW, body=BODY, secret=SECRET, scheme="v1"):
    return f"t={timestamp},{scheme}={compute(secret, timestamp, body)}"


def reason(head, body=BODY, now=NOW, secret=SECRET) -> str:
    with pytest.raises(SignatureError) as caught:
        verify_signature(secret, head, body, now=now)
    return caught.value.reason


def test_valid_header_passes():
    verify_signature(SECRET, header(), BODY, now=NOW)


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()

    assert sign(SECRET, BODY, NOW) == f"t={NOW},v1={expected}"


def test_sign_defaults_to_now_and_verifies():
    verify_signature(SECRET, sign(SECRET, BODY), BODY)


@pytest.mark.parametrize("head", [None, "", "   "])
def test_missing_header(head):
    assert "missing" in reason(head)


@pytest.mark.parametrize(
    "head",
    [
        "i'm not even a real signature header",
        "t=,v1=abc",
        "t=abc,v1=" + "0" * 64,
        f"t={NOW},t={NOW},v1=" + "0" * 64,
        "v1=" + "0" * 64,
        f"t=-{NOW},v1=" + "0" * 64,
        f"t={NOW}.5,v1=" + "0" * 64,
        f"t={NOW},,v1=" + "0" * 64,
        f"t={NOW},=x",
        "t=" + "9" * 40 + ",v1=" + "0" * 64,
        f"t={NOW},v1=" + "a" * 5000,
    ],
)
def test_malformed_header(head):
    assert "malformed" in reason(head)


def test_header_without_v1_signature():
    assert "no v1" in reason(header(scheme="v0"))


def test_wrong_secret():
    assert "does not match" in reason(header(secret="another secret"))


def test_body_differs_from_the_signed_one():
    assert "does not match" in reason(header(), body=BODY + b" ")


def test_signature_of_reserialized_json_does_not_match_raw_body():
    assert "does not match" in reason(header(body=b'{"bank_payment_id":"x"}'))


@pytest.mark.parametrize("offset", [301, 3600, -301, -3600])
def test_stale_timestamp_either_way(offset):
    assert "from the server's clock" in reason(header(timestamp=NOW + offset))


@pytest.mark.parametrize("offset", [300, -300, 0])
def test_timestamp_within_tolerance(offset):
    verify_signature(SECRET, header(timestamp=NOW + offset), BODY, now=NOW)


def test_custom_tolerance():
    with pytest.raises(SignatureError):
        verify_signature(SECRET, header(timestamp=NOW - 11), BODY, now=NOW, tolerance=10)


def test_one_matching_v1_among_several_is_enough():
    good = compute(SECRET, NOW, BODY)
    head = f"t={NOW},v1={'0' * 64},v1={good},v0={'1' * 64}"

    verify_signature(SECRET, head, BODY, now=NOW)


def test_several_v1_none_matching():
    head = f"t={NOW},v1={'0' * 64},v1={compute('old', NOW, BODY)}"

    assert "does not match" in reason(head)


def test_upper_case_hex_matches():
    verify_signature(SECRET, header().upper().replace("T=", "t=").replace("V1=", "v1="), BODY,
                     now=NOW)


@pytest.mark.parametrize(
    "junk",
    ["é" * 64, "ü", "\x00" * 64, "ｆ" * 64, "🙂", "0x" + "0" * 62, "g" * 64],
)
def test_non_ascii_or_non_hex_junk_never_matches_nor_crashes(junk):
    assert "does not match" in reason(f"t={NOW},v1={junk}")


def test_junk_beside_a_good_signature_is_ignored():
    verify_signature(SECRET, f"t={NOW},v1=é,v1={compute(SECRET, NOW, BODY)}", BODY, now=NOW)


def test_non_ascii_secret_and_body():
    body = "{\"nome\": \"João\"}".encode()
    head = sign("ségredo", body, NOW)

    verify_signature("ségredo", head, body, now=NOW)
    with pytest.raises(SignatureError):
        verify_signature("segredo", head, body, now=NOW)


def test_empty_body_can_be_signed():
    verify_signature(SECRET, sign(SECRET, b"", NOW), b"", now=NOW)
