"""OAuth2 client credentials (RFC 6749 section 4.4) and the Bearer check of every ``/v2`` call."""

from __future__ import annotations

import hmac
import secrets
import time

from flask import Blueprint, Response, current_app, jsonify, request

from payments.simulator.problems import Problem, response

#: The documented demo credentials; ``--client-id`` and ``--client-secret`` change them.
DEMO_CLIENT_ID = "simulator-client"
DEMO_CLIENT_SECRET = "simulator-secret"
#: What a token allows (the standard's scopes for the calls the simulator serves).
SCOPES = "cob.write cob.read pix.write pix.read webhook.write webhook.read"

bp = Blueprint("oauth", __name__)


def _oauth_error(error: str, description: str, status: int) -> Response:
    """Return an RFC 6749 error answer."""
    answer = jsonify({"error": error, "error_description": description})
    answer.status_code = status
    answer.headers["Cache-Control"] = "no-store"
    if status == 401:
        answer.headers["WWW-Authenticate"] = 'Basic realm="simulator"'
    return answer


def _credentials() -> tuple[str, str] | None:
    """Return the client's (id, secret) from HTTP Basic, else from the form, else ``None``."""
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        return auth.username or "", auth.password or ""
    if "client_id" in request.form:
        return request.form["client_id"], request.form.get("client_secret", "")
    return None


@bp.post("/oauth/token")
def token() -> Response:
    """Issue an access token to a client that proves its id and secret."""
    credentials = _credentials()
    config = current_app.config
    if credentials is None:
        return _oauth_error("invalid_client", "client authentication is required", 401)
    given_id, given_secret = credentials
    id_ok = hmac.compare_digest(given_id.encode(), config["SIM_CLIENT_ID"].encode())
    secret_ok = hmac.compare_digest(given_secret.encode(), config["SIM_CLIENT_SECRET"].encode())
    if not (id_ok and secret_ok):
        return _oauth_error("invalid_client", "unknown client or wrong secret", 401)
    grant = request.form.get("grant_type")
    if grant != "client_credentials":
        return _oauth_error("unsupported_grant_type", "grant_type must be client_credentials", 400)
    seconds = config["SIM_TOKEN_SECONDS"]
    access_token = secrets.token_urlsafe(32)
    current_app.extensions["simulator"].store.add_token(access_token, time.time() + seconds)
    answer = jsonify(
        {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": seconds,
            "scope": SCOPES,
        }
    )
    answer.headers["Cache-Control"] = "no-store"
    return answer


def require_token() -> Response | None:
    """Refuse (``401``) a request without a valid, unexpired Bearer token."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    expires = None
    if scheme.lower() == "bearer" and value.strip():
        expires = current_app.extensions["simulator"].store.token_expires(value.strip())
    if expires is not None and time.time() < expires:
        return None
    reason = (
        "missing access token"
        if expires is None and not value
        else ("expired access token" if expires is not None else "invalid access token")
    )
    problem = Problem("AcessoNegado", 401, f"{reason}: ask /oauth/token for one")
    return response(
        problem, {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{reason}"'}
    )
