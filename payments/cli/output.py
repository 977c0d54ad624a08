"""What every command prints when it cannot go on."""

import click


def fail(message: str) -> None:
    """Print ``message`` to stderr and exit with status 1."""
    click.echo(message, err=True)
    raise SystemExit(1)
