"""PIX payment pages: the application factory.

``create_app`` configures and registers, nothing else: it touches no database,
patches no library and starts no task. The server's entry point
(``payments.boot.serve_app``, called by ``app.py`` and ``wsgi.py``) does that.
"""

import click
from flask import Flask


def create_app(overrides: dict | None = None, instance_path: str | None = None) -> Flask:
    """Create the app: settings, extensions, routes, error handlers and commands.

    ``instance_path`` defaults to the project's ``instance/`` folder.

    :raise settings.ConfigError: a setting is invalid.
    """
    app = Flask(
        __name__,
        instance_path=instance_path,
        template_folder="../templates",
        static_folder="../static",
    )
    from payments import settings

    settings.load(app, overrides)
    app.json.sort_keys = False  # keep the documented field order

    from payments import database, errors, events, schema, site
    from payments import push as push_feature
    from payments.apidoc import views as apidoc
    from payments.bank import routes as bank
    from payments.charges import views as charges
    from payments.cli import register as register_commands
    from payments.extensions import db, socketio
    from payments.merchant import routes as merchant
    from payments.push import routes as push
    from payments.realtime import message_queue, publish, sockets, watchers  # sockets: handlers
    from payments.web import security, sessions

    db.init_app(app)
    database.init_app(app)
    if click.get_current_context(silent=True) is not None:
        schema.migrations(app)  # a command line: ``flask db`` needs Flask-Migrate's extension
    socketio.init_app(
        app,
        async_mode=app.config["ASYNC_MODE"],
        client_manager=message_queue.client_manager(app.config["SOCKETIO_MESSAGE_QUEUE"]),
        cors_allowed_origins=app.config["SOCKETIO_CORS_ALLOWED_ORIGINS"],
    )
    del sockets  # imported for its Socket.IO handlers
    watchers.init_app(app)
    publish.init_app()
    events.init_app(app)
    push_feature.init_app(app)  # the outbox's "push" destination

    app.register_blueprint(charges.bp)
    app.register_blueprint(merchant.bp)
    app.register_blueprint(push.bp)
    app.register_blueprint(bank.bp)
    app.register_blueprint(site.bp)
    app.register_blueprint(apidoc.bp)
    errors.register(app)
    security.init_app(app)
    app.session_interface = sessions.LazyCookieSessionInterface()
    site.init_app(app)
    register_commands(app)
    return app
