"""Read and check the app's settings: defaults, ``instance/config.py``, environment."""

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from limits import parse_many

from payments.database import restrict
from payments.merchant.keys import parse_keys
from payments.patterns import MAX_BODY
from payments.pix.brcode import InvalidPixKey, ascii_text, normalize_pix_key
from payments.pix.money import InvalidAmount, reais_to_cents
from payments.push import keys as push_keys
from payments.web.proxies import parse_hosts, parse_proxies

# A documented demo receiver (the random key of Banco Central's own examples).
DEMO_PIX_KEY = "123e4567-e12b-12d1-a456-426655440000"
# Who push services may contact about our pushes until VAPID_SUBJECT says (documented).
DEMO_VAPID_SUBJECT = "mailto:pagamentos@example.com"

#: Settings that may come from the environment (or ``instance/config.py``).
ENV_SETTINGS = (
    "DATABASE_URL",
    "DATABASE_CONNECT_TIMEOUT",
    "DATABASE_STATEMENT_TIMEOUT",
    "DATABASE_POOL_TIMEOUT",
    "SECRET_KEY",
    "PIX_KEY",
    "PIX_MERCHANT_NAME",
    "PIX_MERCHANT_CITY",
    "PIX_EXPIRATION_SECONDS",
    "PIX_MAX_VALUE",
    "PIX_WEBHOOK_SECRET",
    "SOCKETIO_MESSAGE_QUEUE",
    "SOCKETIO_CORS_ALLOWED_ORIGINS",
    "RATE_LIMIT_CREATE",
    "RATE_LIMIT_STORAGE_URI",
    "TRUSTED_PROXIES",
    "ALLOWED_HOSTS",
    "MAX_CONNECTIONS_PER_ADDRESS",
    "REQUEST_HEADER_TIMEOUT",
    "REQUEST_BODY_TIMEOUT",
    "SSE_KEEPALIVE_SECONDS",
    "PAGE_RECHECK_SECONDS",
    "LEAN_WEBSOCKETS",
    "PAYMENTS_ENV",
    "MERCHANT_API_KEYS",
    "DELIVERY_LOG_RETENTION_DAYS",
    "PIX_PSP_URL",
    "PIX_PSP_TOKEN_URL",
    "PIX_PSP_CLIENT_ID",
    "PIX_PSP_CLIENT_SECRET",
    "PIX_PSP_CERT",
    "PIX_PSP_KEY",
    "PIX_PSP_CA",
    "PIX_PSP_RECONCILE_SECONDS",
    "VAPID_PRIVATE_KEY",
    "VAPID_SUBJECT",
    "PUSH_KEEP_SECONDS",
    "MERCHANT_WEBHOOK_URLS",
    "MERCHANT_WEBHOOK_SECRET",
    "MERCHANT_WEBHOOK_RETRY_SECONDS",
    "EVENTS_RETENTION_DAYS",
    "EVENTS_FAILED_RETENTION_DAYS",
    "EVENTS_LEASE_SECONDS",
    "BROKER_URL",
)

#: Settings where an empty value in the environment means "off", not "use the default".
EMPTY_MEANS_OFF = ("RATE_LIMIT_CREATE",)

#: The environments: ``sandbox`` keeps a first run free of set-up; ``production`` fails closed.
ENVIRONMENTS = ("sandbox", "production")

DEFAULTS = {
    # PostgreSQL only. Seconds to open a connection; seconds one statement may run (the server
    # cancels it, and a round trip unanswered a second longer is cut: a silent server);
    # seconds a request waits for a free connection of the pool. Together under 10 s.
    "DATABASE_CONNECT_TIMEOUT": 3,
    "DATABASE_STATEMENT_TIMEOUT": 4,
    "DATABASE_POOL_TIMEOUT": 2,
    "PAYMENTS_ENV": "sandbox",
    # Comma-separated secret keys of the merchant's API (several, to rotate one); unset
    # (sandbox only): the merchant routes are open.
    "MERCHANT_API_KEYS": None,
    "PIX_KEY": DEMO_PIX_KEY,
    "PIX_MERCHANT_NAME": "Loja Exemplo",
    "PIX_MERCHANT_CITY": "Sao Paulo",
    "PIX_EXPIRATION_SECONDS": 1800,
    "PIX_MAX_VALUE": "1000000.00",
    "PIX_WEBHOOK_SECRET": None,
    "SOCKETIO_MESSAGE_QUEUE": None,
    # Comma-separated origins allowed to open Socket.IO sessions; unset: same origin only.
    "SOCKETIO_CORS_ALLOWED_ORIGINS": None,
    # Charges one API key (one client address while no keys are set) may create; empty turns
    # the limit off (e.g. for benchmarks). Far above a busy shop: 50 sales a second.
    "RATE_LIMIT_CREATE": "3000/minute",
    # Where rate-limit counters live; unset: Redis of SOCKETIO_MESSAGE_QUEUE, else memory.
    "RATE_LIMIT_STORAGE_URI": None,
    # Comma-separated addresses or CIDR ranges of the reverse proxies whose X-Forwarded-For
    # and -Proto to believe, on their connections only (deploy/nginx.conf: 127.0.0.1).
    "TRUSTED_PROXIES": None,
    # Comma-separated host names this service answers for; unset: any Host.
    "ALLOWED_HOSTS": None,
    # Of python app.py (eventlet): connections one client address may hold open at once.
    "MAX_CONNECTIONS_PER_ADDRESS": 500,
    # Seconds a request's line and headers may take to arrive (an idle keep-alive
    # connection is closed after as long), and a body may stall, before the connection closes.
    "REQUEST_HEADER_TIMEOUT": 15,
    "REQUEST_BODY_TIMEOUT": 30,
    # Never from FLASK_DEBUG: the Werkzeug debugger runs code for whoever reaches it.
    "DEBUG": False,
    # "threading" for tests and tools; app.py (the server) chooses "eventlet".
    "ASYNC_MODE": "threading",
    "MAX_CONTENT_LENGTH": MAX_BODY,
    # Seconds between keep-alive comments on an idle event stream.
    "SSE_KEEPALIVE_SECONDS": 15,
    # Seconds between a waiting page's own looks at its status, beside its live channel: a
    # change its channel missed (Redis down) reaches it within this long. At most 60.
    "PAGE_RECHECK_SECONDS": 25,
    # The expiry and watcher task; app.py (the server) turns it on, tests and tools leave it off.
    "BACKGROUND_TASKS": False,
    # The server's own Engine.IO connections (no idle green thread per page): on, or "0" for
    # python-engineio's as it ships; docs/benchmarks.md gives what each costs per page.
    "LEAN_WEBSOCKETS": True,
    # Days the bank webhook's delivery log keeps a delivery; older ones are deleted by the
    # background task and ``flask deliveries prune`` (LGPD: keep no longer than needed).
    "DELIVERY_LOG_RETENTION_DAYS": 90,
    # The merchant's Pix provider (API Pix): unset, charges are static BR Codes.
    "PIX_PSP_URL": None,
    "PIX_PSP_TOKEN_URL": None,
    "PIX_PSP_CLIENT_ID": None,
    "PIX_PSP_CLIENT_SECRET": None,
    # Optional mutual TLS with the provider: client certificate, its key, the CA to trust.
    "PIX_PSP_CERT": None,
    "PIX_PSP_KEY": None,
    "PIX_PSP_CA": None,
    # Seconds between listings of received Pix that catch a missed callback.
    "PIX_PSP_RECONCILE_SECONDS": 60,
    # Web Push: the PEM P-256 key signing pushes (unset: one generated once into instance/),
    # who push services may contact, and how long a charge's subscriptions outlive its
    # last change (they are personal-ish data: endpoints are not kept for ever).
    "VAPID_PRIVATE_KEY": None,
    "VAPID_SUBJECT": DEMO_VAPID_SUBJECT,
    "PUSH_KEEP_SECONDS": 86400,
    # Comma-separated URLs every event is POSTed to, signed with MERCHANT_WEBHOOK_SECRET.
    "MERCHANT_WEBHOOK_URLS": None,
    "MERCHANT_WEBHOOK_SECRET": None,
    # Seconds between a webhook's attempts; after the last one it is failed (about 1.5 days).
    "MERCHANT_WEBHOOK_RETRY_SECONDS": "10,60,300,1800,7200,21600,86400",
    # Days an event is kept once every destination has it; one that failed somewhere, longer.
    "EVENTS_RETENTION_DAYS": 7,
    "EVENTS_FAILED_RETENTION_DAYS": 30,
    # Seconds a relay's claim holds a delivery: after a crash, another process resends then.
    "EVENTS_LEASE_SECONDS": 60,
    # RabbitMQ (AMQP 0-9-1) that receives every event on the topic exchange ``payments``,
    # e.g. amqp://guest:guest@127.0.0.1:5672//; unset: no broker (docs/api.md, "RabbitMQ").
    "BROKER_URL": None,
}


class ConfigError(RuntimeError):
    """A setting is invalid; the app must not start."""


def load(app: Flask, overrides: dict | None) -> None:
    """Layer defaults, ``instance/config.py``, the environment and ``overrides``."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    for name in ENV_SETTINGS:
        if os.environ.get(name) or (name in EMPTY_MEANS_OFF and name in os.environ):
            app.config[name] = os.environ[name]
    if overrides:
        app.config.update(overrides)
    _database(app)
    _secret_key(app)
    _pix(app)
    _limits(app)
    _connections(app)
    _realtime(app)
    _delivery_log(app)
    _psp(app)
    _push(app)
    _environment(app)
    _events(app)
    _broker(app)


#: The database timeouts: name -> (lowest, highest) whole seconds.
DATABASE_TIMEOUTS = {
    "DATABASE_CONNECT_TIMEOUT": (2, 60),  # libpq counts less than 2 as 2
    "DATABASE_STATEMENT_TIMEOUT": (1, 300),
    "DATABASE_POOL_TIMEOUT": (1, 60),
}


def _whole(cfg, name: str, low: int, high: int, unit: str = "") -> str | None:
    """Make setting ``name`` a whole number from ``low`` to ``high``; return the problem, if any.

    ``unit`` ("seconds", "days") only words the problem.
    """
    value = cfg[name]
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high:
        of_unit = f" of {unit}" if unit else ""
        return f"{name} must be a whole number{of_unit} from {low} to {high}, not {value!r}"
    cfg[name] = number
    return None


def _raise_any(problems: list[str | None]) -> None:
    """Raise one ``ConfigError`` with a line per problem, if there is any.

    :raise ConfigError: some entry of ``problems`` is not None.
    """
    lines = [problem for problem in problems if problem]
    if lines:
        raise ConfigError("\n".join(lines))


def _database(app: Flask) -> None:
    """Point SQLAlchemy at ``DATABASE_URL``, else a SQLite file under ``instance/``.

    PostgreSQL gets its connect timeout, statement timeout and pool timeout;
    ``payments.database`` cuts a round trip the server leaves unanswered.

    :raise ConfigError: a timeout is not a whole number of seconds in its range.
    """
    cfg = app.config
    problems = [_whole(cfg, name, lowest, highest, "seconds")
                for name, (lowest, highest) in DATABASE_TIMEOUTS.items()]
    _raise_any(problems)
    url = cfg.get("SQLALCHEMY_DATABASE_URI") or cfg.get("DATABASE_URL")
    if not url:
        Path(app.instance_path).mkdir(mode=0o700, parents=True, exist_ok=True)
        url = "sqlite:///" + os.path.join(app.instance_path, "payments.sqlite")
    cfg["SQLALCHEMY_DATABASE_URI"] = url
    if str(url).startswith("postgresql"):
        options = cfg.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
        options.setdefault("pool_timeout", cfg["DATABASE_POOL_TIMEOUT"])
        connect_args = options.setdefault("connect_args", {})
        connect_args.setdefault("connect_timeout", cfg["DATABASE_CONNECT_TIMEOUT"])
        statement_ms = cfg["DATABASE_STATEMENT_TIMEOUT"] * 1000
        connect_args.setdefault("options", f"-c statement_timeout={statement_ms}")


def _secret_key(app: Flask) -> None:
    """Use ``SECRET_KEY`` if given, else one generated once into ``instance/``.

    The file is created readable by its owner only (``0600``); one found wider is set so.
    """
    if app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY_GENERATED"] = False
        return
    app.config["SECRET_KEY_GENERATED"] = True
    path = Path(app.instance_path) / "secret_key"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        restrict(str(path))
    else:
        with os.fdopen(descriptor, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32))
    app.config["SECRET_KEY"] = path.read_text(encoding="ascii").strip()


def _pix(app: Flask) -> None:
    """Check the receiver and the limits; store their parsed forms.

    :raise ConfigError: a setting is invalid.
    """
    cfg = app.config
    try:
        cfg["PIX_KEY"] = normalize_pix_key(str(cfg["PIX_KEY"]))
    except InvalidPixKey as exc:
        raise ConfigError(f"PIX_KEY {cfg['PIX_KEY']!r} is not a valid Pix key: {exc}") from None
    for name, limit in (("PIX_MERCHANT_NAME", 25), ("PIX_MERCHANT_CITY", 15)):
        try:
            ascii_text(str(cfg[name]), limit)
        except ValueError:
            raise ConfigError(f"{name} must hold at least one letter or digit") from None
    try:
        cfg["PIX_EXPIRATION_SECONDS"] = int(cfg["PIX_EXPIRATION_SECONDS"])
    except (TypeError, ValueError):
        raise ConfigError("PIX_EXPIRATION_SECONDS must be a whole number of seconds") from None
    if not 1 <= cfg["PIX_EXPIRATION_SECONDS"] <= 7 * 86400:
        raise ConfigError("PIX_EXPIRATION_SECONDS must be between 1 and 604800")
    try:
        cfg["PIX_MAX_CENTS"] = reais_to_cents(str(cfg["PIX_MAX_VALUE"]))
    except InvalidAmount:
        raise ConfigError("PIX_MAX_VALUE must be an amount in reais such as 1000000.00") from None
    if cfg["PIX_MAX_CENTS"] <= 0:
        raise ConfigError("PIX_MAX_VALUE must be positive")


def _limits(app: Flask) -> None:
    """Parse the Socket.IO origins and check the charge-creation rate limit.

    :raise ConfigError: the rate limit is not a rate such as ``60/minute``.
    """
    cfg = app.config
    origins = cfg.get("SOCKETIO_CORS_ALLOWED_ORIGINS")
    if isinstance(origins, str):
        names = [origin.strip().rstrip("/") for origin in origins.split(",") if origin.strip()]
        origins = "*" if names == ["*"] else names or None
    cfg["SOCKETIO_CORS_ALLOWED_ORIGINS"] = origins
    rate = (cfg.get("RATE_LIMIT_CREATE") or "").strip()
    if rate:
        try:
            parse_many(rate)
        except ValueError:
            raise ConfigError(
                f"RATE_LIMIT_CREATE {rate!r} is not a rate such as 60/minute (empty: no limit)"
            ) from None
    cfg["RATE_LIMIT_CREATE"] = rate


#: Bounds of the connection settings: (smallest, largest) value allowed.
CONNECTION_BOUNDS = {
    "MAX_CONNECTIONS_PER_ADDRESS": (1, 1_000_000),
    "REQUEST_HEADER_TIMEOUT": (0.1, 3600),
    "REQUEST_BODY_TIMEOUT": (0.1, 3600),
}


def _connections(app: Flask) -> None:
    """Check the proxies, hosts, per-address connection cap and request timeouts.

    :raise ConfigError: one line per setting that does not hold.
    """
    cfg = app.config
    problems = []
    try:
        cfg["TRUSTED_PROXIES"] = parse_proxies(cfg.get("TRUSTED_PROXIES"))
    except ValueError as exc:
        problems.append(f"TRUSTED_PROXIES: {exc}")
    try:
        cfg["ALLOWED_HOSTS"] = parse_hosts(cfg.get("ALLOWED_HOSTS"))
    except ValueError as exc:
        problems.append(f"ALLOWED_HOSTS: {exc}")
    for name, (low, high) in CONNECTION_BOUNDS.items():
        if name == "MAX_CONNECTIONS_PER_ADDRESS":
            problems.append(_whole(cfg, name, low, high))
            continue
        try:
            value = float(cfg[name])
        except (TypeError, ValueError):
            value = None
        if value is None or not low <= value <= high:
            problems.append(f"{name} must be a number of seconds from {low} to {high}, "
                            f"not {cfg[name]!r}")
        else:
            cfg[name] = value
    _raise_any(problems)


def _realtime(app: Flask) -> None:
    """Check the keep-alive interval of event streams and the pages' re-check interval.

    :raise ConfigError: the first is not a whole number of seconds from 1 to 300, or the
        second from 1 to 60.
    """
    _raise_any([_whole(app.config, "SSE_KEEPALIVE_SECONDS", 1, 300, "seconds"),
                _whole(app.config, "PAGE_RECHECK_SECONDS", 1, 60, "seconds")])
    lean = app.config["LEAN_WEBSOCKETS"]
    if isinstance(lean, str):
        if lean.strip().lower() not in ("0", "1", "true", "false"):
            raise ConfigError(f"LEAN_WEBSOCKETS must be 1 or 0, not {lean!r}")
        lean = lean.strip().lower() in ("1", "true")
    app.config["LEAN_WEBSOCKETS"] = bool(lean)


#: Longest ``DELIVERY_LOG_RETENTION_DAYS``: ten years.
MAX_RETENTION_DAYS = 3650


def _delivery_log(app: Flask) -> None:
    """Check how long the delivery log keeps a delivery.

    :raise ConfigError: it is not a whole number of days from 1 to ``MAX_RETENTION_DAYS``.
    """
    _raise_any([_whole(app.config, "DELIVERY_LOG_RETENTION_DAYS", 1, MAX_RETENTION_DAYS, "days")])


#: The provider settings that must come together with ``PIX_PSP_URL``.
PSP_REQUIRED = ("PIX_PSP_TOKEN_URL", "PIX_PSP_CLIENT_ID", "PIX_PSP_CLIENT_SECRET")
PSP_FILES = ("PIX_PSP_CERT", "PIX_PSP_KEY", "PIX_PSP_CA")


def _psp(app: Flask) -> None:
    """Check the Pix provider's settings when ``PIX_PSP_URL`` is set; production wants https.

    :raise ConfigError: one line per problem, all of them at once.
    """
    cfg = app.config
    for name in ("PIX_PSP_URL", "PIX_PSP_TOKEN_URL"):
        if isinstance(cfg.get(name), str):
            cfg[name] = cfg[name].strip().rstrip("/") or None
    problems = [_whole(cfg, "PIX_PSP_RECONCILE_SECONDS", 1, 86400, "seconds")]
    if not cfg.get("PIX_PSP_URL"):
        others = [name for name in (*PSP_REQUIRED, *PSP_FILES) if cfg.get(name)]
        if others:
            problems.append(f"{', '.join(others)} set without PIX_PSP_URL, the provider's "
                            "API Pix URL")
        _raise_any(problems)
        return
    production = str(cfg.get("PAYMENTS_ENV") or "").strip().lower() == "production"
    for name in ("PIX_PSP_URL", "PIX_PSP_TOKEN_URL"):
        url = cfg.get(name)
        if not url:
            continue
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            problems.append(f"{name} must be an absolute https URL, not {url!r}")
        elif parts.scheme != "https" and production:
            problems.append(f"{name} must be https in production, not {url!r}")
    for name in PSP_REQUIRED:
        if not cfg.get(name):
            problems.append(f"PIX_PSP_URL needs {name} (OAuth2 client credentials)")
    if bool(cfg.get("PIX_PSP_CERT")) != bool(cfg.get("PIX_PSP_KEY")):
        problems.append("PIX_PSP_CERT and PIX_PSP_KEY go together: the client certificate "
                        "and its key")
    for name in PSP_FILES:
        path = cfg.get(name)
        if path and not os.path.isfile(path):
            problems.append(f"{name} {path!r} is not a readable file")
    _raise_any(problems)


def _push(app: Flask) -> None:
    """Load the VAPID key, check its subject and how long subscriptions are kept.

    :raise ConfigError: the key is not a PEM P-256 private key, the subject not a
        ``mailto:`` or ``https:`` URI, or ``PUSH_KEEP_SECONDS`` not 60 to 2592000.
    """
    try:
        push_keys.load(app)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    _raise_any([_whole(app.config, "PUSH_KEEP_SECONDS", 60, 30 * 86400, "seconds")])


def _environment(app: Flask) -> None:
    """Check ``PAYMENTS_ENV`` and the API keys; in production, everything that must be set.

    :raise ConfigError: one line per problem, all of them at once.
    """
    cfg = app.config
    env = str(cfg.get("PAYMENTS_ENV") or "sandbox").strip().lower()
    if env not in ENVIRONMENTS:
        raise ConfigError(f"PAYMENTS_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    cfg["PAYMENTS_ENV"] = env
    try:
        cfg["MERCHANT_API_KEYS"] = parse_keys(cfg.get("MERCHANT_API_KEYS"))
    except ValueError as exc:
        raise ConfigError(f"MERCHANT_API_KEYS: {exc}") from None
    if env != "production":
        return
    problems = []
    if not cfg.get("PIX_WEBHOOK_SECRET"):
        problems.append("production needs PIX_WEBHOOK_SECRET, the bank webhook's shared secret")
    if not cfg["MERCHANT_API_KEYS"]:
        problems.append("production needs MERCHANT_API_KEYS, the merchant API's secret keys")
    if cfg["SECRET_KEY_GENERATED"]:
        problems.append("production needs SECRET_KEY given, not generated into instance/")
    if cfg["PIX_KEY"] == DEMO_PIX_KEY:
        problems.append(f"production needs PIX_KEY, the shop's own Pix key, not the demo key "
                        f"{DEMO_PIX_KEY}")
    _raise_any(problems)


def _number(cfg, name: str, low: float, high: float, kind=int):
    """Return setting ``name`` as a ``kind`` from ``low`` to ``high``.

    :raise ConfigError: it is not.
    """
    value = cfg[name]
    try:
        number = kind(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high:
        raise ConfigError(f"{name} must be a number from {low:g} to {high:g}: {value!r}")
    return number


def _events(app: Flask) -> None:
    """Check the outbox's settings and the merchant's webhooks.

    :raise ConfigError: one line per problem, all of them at once.
    """
    cfg = app.config
    problems = []
    urls = cfg.get("MERCHANT_WEBHOOK_URLS") or []
    if isinstance(urls, str):
        urls = [url.strip() for url in urls.split(",") if url.strip()]
    for url in urls:
        scheme, _, rest = url.partition("://")
        if scheme.lower() not in ("http", "https") or not rest.split("/")[0]:
            problems.append(f"MERCHANT_WEBHOOK_URLS: {url!r} is not an http(s) URL")
    cfg["MERCHANT_WEBHOOK_URLS"] = list(dict.fromkeys(urls))  # each URL once
    if urls and not cfg.get("MERCHANT_WEBHOOK_SECRET"):
        problems.append("MERCHANT_WEBHOOK_URLS needs MERCHANT_WEBHOOK_SECRET, the secret "
                        "the merchant's endpoint checks each event's signature with")
    delays = cfg.get("MERCHANT_WEBHOOK_RETRY_SECONDS")
    if isinstance(delays, str):
        delays = [part.strip() for part in delays.split(",") if part.strip()]
    try:
        delays = [int(delay) for delay in delays or ()]
    except (TypeError, ValueError):
        delays = [-1]
    if any(not 0 <= delay <= 7 * 86400 for delay in delays):
        problems.append("MERCHANT_WEBHOOK_RETRY_SECONDS must be comma-separated whole seconds "
                        "from 0 to 604800, e.g. 10,60,300")
    cfg["MERCHANT_WEBHOOK_RETRY_SECONDS"] = delays
    for name, low, high in (("EVENTS_RETENTION_DAYS", 0, 3650),
                            ("EVENTS_FAILED_RETENTION_DAYS", 0, 3650),
                            ("EVENTS_LEASE_SECONDS", 1, 3600)):
        try:
            cfg[name] = _number(cfg, name, low, high, float)
        except ConfigError as exc:
            problems.append(str(exc))
    _raise_any(problems)


#: The URL schemes of ``BROKER_URL``: AMQP 0-9-1, plain or over TLS.
BROKER_SCHEMES = ("amqp", "amqps")


def _broker(app: Flask) -> None:
    """Check ``BROKER_URL`` is an AMQP URL (or unset); an empty value means no broker.

    Only its form is checked here: a broker that does not answer does not stop
    the start (events wait in the outbox until it does).

    :raise ConfigError: it is not an ``amqp://`` or ``amqps://`` URL with a host.
    """
    url = (app.config.get("BROKER_URL") or "").strip()
    if url:
        parts = urlsplit(url)
        try:
            parts.port  # noqa: B018 -- raises on a port that is not a number
        except ValueError:
            parts = parts._replace(netloc="")
        if parts.scheme not in BROKER_SCHEMES or not parts.hostname:
            raise ConfigError("BROKER_URL must be an AMQP URL such as "
                              "amqp://guest:guest@127.0.0.1:5672// (or unset: no broker)")
    app.config["BROKER_URL"] = url or None
