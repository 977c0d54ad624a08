"""What every command prints when it cannot go on: one line, never a traceback."""

import click
from flask.cli import AppGroup, ScriptInfo
from sqlalchemy.exc import SQLAlchemyError


def fail(message: str) -> None:
    """Print ``message`` to stderr and exit with status 1."""
    click.echo(message, err=True)
    raise SystemExit(1)


class Group(AppGroup):
    """A command group whose commands report a database they cannot use in one line."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SQLAlchemyError as exc:
            from payments.boot import reason
            from payments.extensions import db

            with ctx.ensure_object(ScriptInfo).load_app().app_context():
                where = db.engine.url.render_as_string(hide_password=True)
            fail(f"error: cannot use the database at {where}: {reason(exc)} "
                 "(is it migrated? flask --app payments db upgrade)")
