"""PIX payment pages: the application factory."""

import click
from flask import Flask, url_for


def create_app(overrides: dict | None = None, instance_path: str | None = None) -> Flask:
    """Create the app: settings, database, Socket.IO, routes and error handlers.

    ``instance_path`` defaults to the project's ``instance/`` folder.

    :raise settings.ConfigError: a setting is invalid.
    """
    app = Flask(
        __name__,
        instance_path=instance_path,
        template_folder="../templates",
        static_folder="../static",
    )
    from . import settings

    settings.load(app, overrides)
    app.json.sort_keys = False  # keep the contract's field order

    from . import (
        background,
        cli,
        database,
        docs,
        engine_sockets,
        errors,
        events,
        message_queue,
        schema,
        security,
        sessions,
        site,
        views,
        watchers,
        webhooks,
    )
    from .extensions import db, socketio

    db.init_app(app)
    if click.get_current_context(silent=True) is not None:
        schema.migrations(app)  # a command line (``flask db``, ours): Flask-Migrate's extension
    engine_sockets.install()  # no idle green threads per page: one ping task, writers on demand
    manager = message_queue.client_manager(app.config["SOCKETIO_MESSAGE_QUEUE"])
    socketio.init_app(
        app,
        async_mode=app.config["ASYNC_MODE"],
        client_manager=manager,  # None: the embedded single-process manager
        cors_allowed_origins=app.config["SOCKETIO_CORS_ALLOWED_ORIGINS"],
    )
    del events  # imported for its handlers
    app.extensions[watchers.EXTENSION] = watchers.Hub()

    app.register_blueprint(views.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(site.bp)
    app.register_blueprint(docs.bp)
    errors.register(app)
    security.init_app(app)
    app.session_interface = sessions.LazyCookieSessionInterface()
    app.cli.add_command(cli.bank)
    app.cli.add_command(cli.deliveries)
    if not app.config.get("PIX_WEBHOOK_SECRET"):
        app.logger.warning(
            "PIX_WEBHOOK_SECRET is not set: unsigned bank webhooks are accepted; "
            "set it before taking real payments"
        )

    @app.context_processor
    def page_globals() -> dict:
        client = site.socketio_client_installed()
        return {
            "merchant_name": app.config["PIX_MERCHANT_NAME"],
            "socketio_client_url": url_for("site.socketio_client") if client else None,
        }

    with app.app_context():
        # before the first connection, which the schema step opens
        database.tune(db.engine, background_checkpoints=app.config["BACKGROUND_TASKS"])
    schema.prepare(app)
    if app.config["BACKGROUND_TASKS"]:
        background.start(app)
    return app
