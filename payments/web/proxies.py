"""Who the client is and which host it asked for: trusted proxies, allowed hosts, redirects.

``X-Forwarded-For`` and ``X-Forwarded-Proto`` are anyone's to write. They are
believed only on a connection from one of ``TRUSTED_PROXIES`` (addresses or
CIDR ranges); from anyone else they are dropped before the app (or Socket.IO's
origin check) sees them. ``X-Forwarded-Host`` is never believed. With
``ALLOWED_HOSTS`` set, a request for any other ``Host`` is ``400``. A redirect
never names the host the client sent: its ``Location`` is made relative.
"""

import functools
import ipaddress
import json
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Response, request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Headers only a trusted proxy may set; ``X-Forwarded-Host`` nobody may.
FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO")
NEVER_BELIEVED = (
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PREFIX",
    "HTTP_FORWARDED",
)
SCHEMES = ("http", "https")


def _items(value) -> list[str]:
    """Return the non-empty, stripped entries of a comma-separated setting (or a list)."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    elif not isinstance(value, Iterable):
        value = [value]
    return [str(item).strip() for item in value if str(item).strip()]


def parse_proxies(value) -> tuple[Network, ...]:
    """Return the networks of ``TRUSTED_PROXIES`` (``127.0.0.1,10.0.0.0/8``); empty: none.

    A bare number (the hop count this setting once was) is refused: it said whom to
    believe by position, so it believed anyone who connected directly.

    :raise ValueError: an entry is not an address or CIDR range.
    """
    networks = []
    for item in _items(value):
        if item.isdigit():
            raise ValueError(
                f"{item!r} is a count of proxies, which is no longer accepted: give the proxies' "
                f"addresses or CIDR ranges, e.g. 127.0.0.1,10.0.0.0/8 (unset: trust none)"
            )
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or CIDR range") from None
    return tuple(networks)


def host_name(host: str) -> str:
    """Return the name of a ``Host`` header without its port: ``Pay.Example.com:8443`` ->
    ``pay.example.com``, ``[::1]:5000`` -> ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def parse_hosts(value) -> tuple[str, ...]:
    """Return the names of ``ALLOWED_HOSTS`` (``pay.example.com,127.0.0.1``); empty: any host.

    :raise ValueError: an entry is not a host name or address.
    """
    names = []
    for item in _items(value):
        name = host_name(item)
        if not name or any(char in item for char in "/@?#\\ \t"):
            raise ValueError(f"{item!r} is not a host name")
        names.append(name)
    return tuple(names)


def _address(text: str):
    """Return ``text`` as an IP address, or None."""
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


class ProxyHeaders:
    """WSGI middleware: the client's address and scheme, as a trusted proxy saw them."""

    def __init__(self, app: Callable, networks: tuple[Network, ...]) -> None:
        self.app = app
        self.networks = networks
        # The peer is nearly always one of a few proxies: remember the answer per address.
        self._peer_is_proxy = functools.lru_cache(maxsize=1024)(
            lambda peer: self.trusted(_address(peer))
        )

    def trusted(self, address) -> bool:
        """Tell whether ``address`` (an ``ip_address`` or None) is one of the trusted proxies."""
        return address is not None and any(address in network for network in self.networks)

    def __call__(self, environ: dict, start_response: Callable):
        for name in NEVER_BELIEVED:
            environ.pop(name, None)
        if self.networks and self._peer_is_proxy(environ.get("REMOTE_ADDR", "")):
            # Right to left: each proxy appends the address it saw; the first one that is not
            # a trusted proxy is the client. A malformed entry stops the walk where it is.
            client = environ["REMOTE_ADDR"]
            for entry in reversed(environ.get("HTTP_X_FORWARDED_FOR", "").split(",")):
                address = _address(entry)
                if address is None:
                    break
                client = str(address)
                if not self.trusted(address):
                    break
            environ["REMOTE_ADDR"] = client
            scheme = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
            if scheme in SCHEMES:
                environ["wsgi.url_scheme"] = scheme
        else:
            for name in FORWARDED_HEADERS:
                environ.pop(name, None)
        return self.app(environ, start_response)


class AllowedHosts:
    """WSGI middleware: ``400`` JSON for a request whose ``Host`` is not one of ``names``."""

    def __init__(self, app: Callable, names: tuple[str, ...]) -> None:
        self.app = app
        self.names = frozenset(names)

    def __call__(self, environ: dict, start_response: Callable):
        if host_name(environ.get("HTTP_HOST", "")) in self.names:
            return self.app(environ, start_response)
        body = json.dumps(
            {"message": "This server does not answer for the host named in the Host header"}
        )
        return Response(body, 400, mimetype="application/json")(environ, start_response)


def relative_redirect(response: Response) -> Response:
    """Make a redirect's absolute ``Location`` on the request's own host relative.

    The host came from the client's ``Host`` header (werkzeug's ``308`` to the URL
    with a trailing slash is built from it), so a forged header would send the
    next request, or a cache, elsewhere. The body of such an answer is JSON.
    """
    if not 300 <= response.status_code < 400 or "Location" not in response.headers:
        return response
    parts = urlsplit(response.headers["Location"])
    if not parts.netloc or parts.netloc.lower() != request.host.lower():
        return response  # already relative, or a host the app itself chose
    relative = urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))
    response.headers["Location"] = relative
    if response.mimetype == "text/html":
        response.set_data(json.dumps({"message": f"Moved to {relative}"}))
        response.mimetype = "application/json"
    return response


def init_app(app: Flask) -> None:
    """Install the allowed hosts, the trusted proxies and relative redirects."""
    app.wsgi_app = ProxyHeaders(app.wsgi_app, app.config["TRUSTED_PROXIES"])
    if app.config["ALLOWED_HOSTS"]:
        app.wsgi_app = AllowedHosts(app.wsgi_app, app.config["ALLOWED_HOSTS"])
    app.after_request(relative_redirect)
