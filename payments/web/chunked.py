"""Bodies without a ``Content-Length`` (``Transfer-Encoding: chunked``), held to the same limits.

A server that ends such a body itself says so with ``wsgi.input_terminated``
(gunicorn, werkzeug's and, through ``payments.web.connections``, eventlet's);
werkzeug then reads it, but stops silently at ``max_content_length``, so a
chunked body over the limit would reach the route cut short instead of being
refused. ``Request.stream`` here reads one byte further: over the limit is
``413``, as with a ``Content-Length`` that says so.
"""

import io

from flask import Flask
from flask import Request as FlaskRequest
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property


class BoundedBody(io.RawIOBase):
    """A terminated input stream that raises ``413`` once more than ``limit`` bytes arrive."""

    def __init__(self, stream, limit: int) -> None:
        super().__init__()
        self._stream = stream
        self.limit = limit
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        """Read into ``buffer``; raise ``RequestEntityTooLarge`` past the limit."""
        # One byte beyond the limit tells "exactly the limit" from "over it".
        wanted = min(len(buffer), self.limit + 1 - self.position)
        data = self._stream.read(wanted) if wanted > 0 else b""
        self.position += len(data)
        if self.position > self.limit:
            raise RequestEntityTooLarge()
        buffer[: len(data)] = data
        return len(data)


class Request(FlaskRequest):
    """Flask's request, whose body without a ``Content-Length`` keeps ``max_content_length``."""

    @cached_property
    def stream(self):
        """The body as werkzeug gives it, bounded also when the server ended it itself."""
        limit = self.max_content_length
        if (
            self.environ.get("wsgi.input_terminated")
            and self.content_length is None
            and limit is not None
            and not self.shallow
        ):
            return io.BufferedReader(BoundedBody(self.environ["wsgi.input"], limit))
        return super().stream


def init_app(app: Flask) -> None:
    """Make ``app``'s requests read chunked bodies within their limits."""
    app.request_class = Request
