"""The Socket.IO message queue (Redis) that several server processes share."""

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
        app.logger.warning("health check: message queue unavailable: %s", exc)
        return "unavailable"
    return "ok"
