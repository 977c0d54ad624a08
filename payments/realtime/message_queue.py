"""The Socket.IO message queue (Redis) that several server processes share."""

import logging
import os
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import redis  # app.py imports this package after eventlet's monkey patching, as Redis needs
import socketio
from flask import Flask
from redis.backoff import NoBackoff
from redis.retry import Retry

#: Channel of the bus; every process (and any outside emitter) must use the same.
CHANNEL = "flask-socketio"
#: Seconds to wait for Redis when connecting, publishing or answering a health check.
TIMEOUT = 1.0
#: Seconds between the subscriber's attempts to subscribe again after Redis went away:
#: doubling from the first to the cap, so events flow again within the cap (plus a
#: connect) of Redis coming back. python-socketio's own manager doubles up to 60 s.
RESUBSCRIBE_FIRST_SECONDS = 0.5
RESUBSCRIBE_MAX_SECONDS = 4.0
#: TCP keep-alive of the subscriber's idle connection: a Redis behind a network that drops
#: everything is found gone within about idle + interval x count seconds (10 + 5 x 3).
KEEPALIVE = {"TCP_KEEPIDLE": 10, "TCP_KEEPINTVL": 5, "TCP_KEEPCNT": 3}

logger = logging.getLogger(__name__)


def client_manager(url: str | None) -> "RedisQueue | None":
    """Return the Socket.IO manager that shares events through Redis at ``url``, or None."""
    if not url:
        return None
    return RedisQueue(url, channel=CHANNEL)


class RedisQueue(socketio.PubSubManager):
    """Socket.IO's bus on Redis pub/sub, that neither hangs nor lags when Redis fails.

    A ``PubSubManager`` with its two documented parts, ``_publish`` and ``_listen``:

    - publishing has a connect and a read timeout, and one immediate retry (a
      connection Redis closed by restarting); a failure is logged and swallowed,
      the change is committed already and pages catch up by polling;
    - the subscriber subscribes again after any failure, waiting from
      ``RESUBSCRIBE_FIRST_SECONDS`` doubling to ``RESUBSCRIBE_MAX_SECONDS``, so
      events flow again within seconds of Redis coming back.
    """

    name = "redis"

    def __init__(self, url: str, channel: str = CHANNEL, write_only: bool = False) -> None:
        super().__init__(channel=channel, write_only=write_only)
        self.url = url
        self._publisher: redis.Redis | None = None
        self._publish_failing = False

    def _client(self, **options) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=TIMEOUT, **options)

    def _publish(self, data) -> None:
        if self._publisher is None:  # made lazily: in the process (worker) that serves
            self._publisher = self._client(
                socket_timeout=TIMEOUT,
                retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)))
        try:
            self._publisher.publish(self.channel, self.json.dumps(data))
        except Exception as exc:  # any Redis or socket error: the bus is best effort
            if not self._publish_failing:
                logger.error("cannot publish to Redis at %s: %s; pages will catch up by "
                             "polling", safe_url(self.url), _gist(exc))
            self._publish_failing = True
        else:
            if self._publish_failing:
                logger.warning("publishing to Redis at %s works again", safe_url(self.url))
            self._publish_failing = False

    def _listen(self) -> Iterator[bytes]:
        wait = RESUBSCRIBE_FIRST_SECONDS
        failing = False
        while True:
            client = pubsub = None
            try:
                client = self._client(socket_keepalive=True, socket_keepalive_options=_keepalive(),
                                      retry=Retry(NoBackoff(), 0))  # this loop retries
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                if failing:
                    logger.warning("subscribed to Redis at %s again", safe_url(self.url))
                failing, wait = False, RESUBSCRIBE_FIRST_SECONDS
                for message in pubsub.listen():
                    if message.get("type") == "message" and "data" in message:
                        yield message["data"]
            except Exception as exc:  # any Redis or socket error: subscribe again
                if not failing:
                    logger.error("lost the subscription to Redis at %s: %s; retrying every "
                                 "%g s at most", safe_url(self.url), _gist(exc),
                                 RESUBSCRIBE_MAX_SECONDS)
                failing = True
            finally:
                for closable in (pubsub, client):
                    if closable is not None:
                        try:
                            closable.close()
                        except Exception:  # already broken
                            pass
            time.sleep(wait)  # green under eventlet and gevent: their patching made it so
            wait = min(wait * 2, RESUBSCRIBE_MAX_SECONDS)


def _keepalive() -> dict[int, int]:
    """Return the TCP keep-alive options this platform has (Linux: all of them)."""
    return {getattr(socket, name): value for name, value in KEEPALIVE.items()
            if hasattr(socket, name)}


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
