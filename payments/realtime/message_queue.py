"""The Socket.IO message queue (Redis) that several server processes share."""

import os
from urllib.parse import urlsplit, urlunsplit

import redis  # app.py imports this package after eventlet's monkey patching, as Redis needs
import socketio
from flask import Flask

#: Channel of the bus; every process (and any outside emitter) must use the same.
CHANNEL = "flask-socketio"
#: Seconds to wait for Redis when connecting or answering a health check.
TIMEOUT = 1.0


def client_manager(url: str | None) -> socketio.RedisManager | None:
    """Return the Socket.IO manager that shares events through Redis at ``url``, or None.

    A connect timeout keeps a webhook from hanging on an unreachable Redis; reads
    have none, since the subscriber waits on its connection for as long as it is idle.
    """
    if not url:
        return None
    return socketio.RedisManager(url, channel=CHANNEL,
                                 redis_options={"socket_connect_timeout": TIMEOUT})


def status(app: Flask) -> str:
    """Return ``disabled`` (no queue), ``ok`` (Redis answers a PING) or ``unavailable``."""
    url = app.config.get("SOCKETIO_MESSAGE_QUEUE")
    if not url:
        return "disabled"
    client = app.extensions.get("message_queue_ping")
    if client is None:
        client = redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT,
                                      socket_timeout=TIMEOUT, retry=None)
        app.extensions["message_queue_ping"] = client
    try:
        client.ping()
    except Exception as exc:  # any Redis or socket error means "down"
        app.extensions["message_queue_error"] = _gist(exc)
        app.logger.warning("message queue unavailable at %s: %s", safe_url(url), _gist(exc))
        return "unavailable"
    app.extensions["message_queue_error"] = None
    return "ok"


def last_error(app: Flask) -> str | None:
    """Return why the last ``status`` found the queue unavailable, or None."""
    return app.extensions.get("message_queue_error")


def safe_url(url: str) -> str:
    """Return ``url`` with its password, if any, replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _gist(exc: Exception) -> str:
    """Return a Redis error in a few words: ``connection refused``."""
    cause: BaseException | None = exc
    while cause is not None:  # the socket's own error, whatever the async mode calls it
        if isinstance(cause, OSError) and cause.errno:
            return os.strerror(cause.errno).lower()
        cause = cause.__cause__ or cause.__context__
    text = str(exc).strip().rstrip(".") or type(exc).__name__
    gist = text.rsplit(". ", 1)[-1]
    return gist[:1].lower() + gist[1:]
