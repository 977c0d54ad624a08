"""Flask's signed-cookie sessions, at no cost to the requests that carry no session cookie."""

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin


class LazyCookieSessionInterface(SecureCookieSessionInterface):
    """Flask's default sessions, building the cookie signer only when there is a cookie.

    The app keeps nothing in sessions, yet the default interface built an
    itsdangerous signer (and serialized ``{}`` to probe it) on every request:
    8% of the CPU of a minimal JSON route under eventlet. Behaviour is the
    parent's: an empty session without a cookie, no ``Set-Cookie`` and no
    ``Vary: Cookie`` unless the session was used.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        # No Cookie header at all (API clients, the bank): not even parse the cookies.
        has_cookie = "HTTP_COOKIE" in request.environ and request.cookies.get(
            self.get_cookie_name(app)
        )
        if app.secret_key and not has_cookie:
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not (session or session.modified or session.accessed):
            return  # the parent would do nothing either: no cookie to set or delete, no Vary
        super().save_session(app, session, response)
