"""An API Pix client: OAuth2 client credentials, optional mutual TLS, timeouts, safe retries.

Built on requests and Authlib's ``OAuth2Session`` (the client-credentials grant, its token
kept until ``LEEWAY`` seconds before it expires). httpx was the first choice, but its
transport imports trio when trio is installed, and trio cannot be imported once eventlet has
patched ``select`` (the server's set-up, ``app.py``): requests' sockets are greened as they are.

Every failure becomes a ``ProviderError``: ``503`` when the provider cannot be reached or
answers 5xx (after the retries a request allows), ``502`` when it refuses the request, with
its ``application/problem+json`` title and detail in our message. Nothing secret (the client
secret, the token) is ever put in a message or a log line.
"""

import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from flask import Flask, current_app

from payments.errors import PaymentError

#: Seconds before its expiry a token is no longer used: a request never carries a dying one.
#: A token shorter-lived than four times this keeps it for three quarters of its life.
LEEWAY = 30
#: (connect, read) seconds for each request to the provider.
TIMEOUT = (5, 20)
#: Waits, in seconds, before the second and third attempt of a request that may be retried.
RETRY_DELAYS = (0.2, 0.6)
#: Provider answers that mean "try again later".
RETRY_STATUSES = frozenset({502, 503, 504})
#: Largest part of a provider's problem text put in our message.
PROBLEM_TEXT_LIMIT = 300


class ProviderError(PaymentError):
    """The provider refused the request (502), or could not be reached (``ProviderUnavailable``)."""

    status_code = 502

    def __init__(self, message: str, provider_status: int | None = None) -> None:
        super().__init__(message)
        self.provider_status = provider_status


class ProviderUnavailable(ProviderError):
    """The provider did not answer, or answered that it cannot serve now."""

    status_code = 503
    headers = {"Retry-After": "5"}


class ProviderNotFound(ProviderError):
    """The provider knows no such resource (its 404)."""


def problem_text(response: requests.Response) -> str:
    """Return what a provider's error answer says: its problem's title and detail, else status."""
    try:
        data = response.json()
    except ValueError:
        data = None
    parts: list[str] = []
    if isinstance(data, dict):
        for name in ("title", "detail"):
            if isinstance(data.get(name), str) and data[name].strip():
                parts.append(data[name].strip())
        for violation in data.get("violacoes") or []:
            if isinstance(violation, dict) and isinstance(violation.get("razao"), str):
                where = violation.get("propriedade")
                parts.append(f"{where}: {violation['razao']}" if where else violation["razao"])
    text = ": ".join(parts) or (response.reason or "no explanation")
    return f"{response.status_code} {text}"[:PROBLEM_TEXT_LIMIT]


class PspClient:
    """The provider's API Pix at ``base_url``, authenticated with client credentials."""

    def __init__(self, base_url: str, token_url: str, client_id: str, client_secret: str,
                 cert: str | None = None, key: str | None = None, ca: str | None = None,
                 timeout: tuple[float, float] = TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self.token_url = token_url
        self.timeout = timeout
        self.session = OAuth2Session(client_id, client_secret, token_endpoint=token_url,
                                     grant_type="client_credentials", leeway=LEEWAY,
                                     default_timeout=timeout)
        if cert:
            self.session.cert = (cert, key) if key else cert
        self.session.verify = ca or True

    # --- the transport ------------------------------------------------------------------------

    def fetch_token(self) -> None:
        """Get a new access token.

        :raise ProviderError: the provider refused the credentials (502) or did not answer (503).
        """
        try:
            self.session.fetch_token(self.token_url, grant_type="client_credentials",
                                     timeout=self.timeout)
        except OAuthError as exc:
            raise ProviderError(f"The Pix provider refused our client credentials: "
                                f"{exc.error}") from None
        except (requests.RequestException, ValueError) as exc:
            raise ProviderUnavailable(f"The Pix provider's token endpoint did not answer: "
                                      f"{type(exc).__name__}") from None
        lifetime = self.session.token.get("expires_in")
        if isinstance(lifetime, int) and not isinstance(lifetime, bool) and lifetime > 0:
            self.session.leeway = min(LEEWAY, lifetime // 4)

    def _send(self, method: str, path: str, **kwargs) -> requests.Response:
        """Send one request with a valid token; on a 401 get a new token and send it once more."""
        if not self.session.token:
            self.fetch_token()
        url = self.base_url + path
        for renewed in (False, True):
            try:
                response = self.session.request(method, url, timeout=self.timeout, **kwargs)
            except OAuthError as exc:  # the session's own renewal of an expired token
                raise ProviderError(f"The Pix provider refused our client credentials: "
                                    f"{exc.error}") from None
            if response.status_code != 401 or renewed:
                return response
            response.close()
            self.fetch_token()  # revoked or expired early: one new token, one more try
        raise AssertionError("unreachable")

    def request(self, method: str, path: str, *, retry: bool = False, **kwargs) -> dict:
        """Return the JSON answer of ``method path``; ``retry`` where repeating it is harmless.

        :raise ProviderNotFound: the provider's 404.
        :raise ProviderUnavailable: no answer, or 5xx, after the attempts allowed.
        :raise ProviderError: any other refusal, its problem's title and detail in the message.
        """
        attempts = 1 + (len(RETRY_DELAYS) if retry else 0)
        for attempt in range(attempts):
            if attempt:
                time.sleep(RETRY_DELAYS[attempt - 1])  # green under eventlet
            try:
                response = self._send(method, path, **kwargs)
            except ProviderUnavailable:
                if attempt + 1 < attempts:
                    continue
                raise
            except requests.RequestException as exc:
                if attempt + 1 < attempts:
                    continue
                raise ProviderUnavailable(f"The Pix provider did not answer {method} {path}: "
                                          f"{type(exc).__name__}") from None
            if response.status_code in RETRY_STATUSES and attempt + 1 < attempts:
                response.close()
                continue
            return self._answer(method, path, response)
        raise AssertionError("unreachable")

    @staticmethod
    def _answer(method: str, path: str, response: requests.Response) -> dict:
        """Return a 2xx answer's JSON object ({} when empty); raise the error of any other."""
        status = response.status_code
        if 200 <= status < 300:
            if not response.content.strip():
                return {}
            try:
                data = response.json()
            except ValueError:
                raise ProviderError(f"The Pix provider's answer to {method} {path} is not "
                                    "JSON") from None
            if not isinstance(data, dict):
                raise ProviderError(f"The Pix provider's answer to {method} {path} is not a "
                                    "JSON object")
            return data
        text = problem_text(response)
        if status == 404:
            raise ProviderNotFound(f"The Pix provider does not know {path}: {text}", status)
        if status >= 500:
            raise ProviderUnavailable(f"The Pix provider is unavailable ({text})", status)
        raise ProviderError(f"The Pix provider refused {method} {path} ({text})", status)

    # --- the API Pix calls the app makes ------------------------------------------------------

    def put_cob(self, txid: str, body: dict) -> dict:
        """Create the immediate charge ``txid`` (``PUT /cob/{txid}``: idempotent by txid)."""
        return self.request("PUT", f"/cob/{quote(txid)}", json=body, retry=True)

    def patch_cob(self, txid: str, body: dict) -> dict:
        """Revise the charge ``txid`` (``PATCH /cob/{txid}``), e.g. to remove it."""
        return self.request("PATCH", f"/cob/{quote(txid)}", json=body)

    def get_pix(self, end_to_end_id: str) -> dict:
        """Return one received Pix (``GET /pix/{e2eid}``)."""
        return self.request("GET", f"/pix/{quote(end_to_end_id)}", retry=True)

    def list_pix(self, start: datetime, end: datetime, per_page: int = 100):
        """Yield every Pix received from ``start`` to ``end`` (``GET /pix``), page after page."""
        page = 0
        while True:
            data = self.request("GET", "/pix", retry=True, params={
                "inicio": rfc3339(start), "fim": rfc3339(end),
                "paginacao.paginaAtual": page, "paginacao.itensPorPagina": per_page})
            items = data.get("pix") or []
            yield from (item for item in items if isinstance(item, dict))
            paging = (data.get("parametros") or {}).get("paginacao") or {}
            pages = paging.get("quantidadeDePaginas")
            page += 1
            if not items or not isinstance(pages, int) or page >= pages:
                return

    def put_refund(self, end_to_end_id: str, refund_id: str, body: dict) -> dict:
        """Ask for a refund (``PUT /pix/{e2eid}/devolucao/{id}``); not retried here."""
        return self.request("PUT", f"/pix/{quote(end_to_end_id)}/devolucao/{quote(refund_id)}",
                            json=body)

    def get_refund(self, end_to_end_id: str, refund_id: str) -> dict:
        """Return a refund's state (``GET /pix/{e2eid}/devolucao/{id}``)."""
        return self.request("GET", f"/pix/{quote(end_to_end_id)}/devolucao/{quote(refund_id)}",
                            retry=True)

    def put_webhook(self, key: str, webhook_url: str) -> dict:
        """Register where the provider posts its callbacks (``PUT /webhook/{chave}``)."""
        return self.request("PUT", f"/webhook/{quote(key, safe='')}",
                            json={"webhookUrl": webhook_url}, retry=True)


def rfc3339(moment: datetime) -> str:
    """Format a time as API Pix wants it: RFC 3339 in UTC, ``2026-11-23T10:05:00Z``."""
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def enabled(app: Flask | None = None) -> bool:
    """Tell whether charges go through a provider (``PIX_PSP_URL`` set)."""
    return bool((app or current_app).config.get("PIX_PSP_URL"))


def client(app: Flask | None = None) -> PspClient:
    """Return this app's provider client (one per app: its token is shared)."""
    app = app or current_app
    found = app.extensions.get("psp_client")
    if found is None:
        cfg = app.config
        found = PspClient(cfg["PIX_PSP_URL"], cfg["PIX_PSP_TOKEN_URL"], cfg["PIX_PSP_CLIENT_ID"],
                          cfg["PIX_PSP_CLIENT_SECRET"], cfg.get("PIX_PSP_CERT"),
                          cfg.get("PIX_PSP_KEY"), cfg.get("PIX_PSP_CA"))
        app.extensions["psp_client"] = found
    return found


def parse_time(value: Any) -> datetime | None:
    """Return an RFC 3339 time of the provider's as aware UTC, or None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
