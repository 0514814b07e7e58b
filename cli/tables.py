"""``novatrace tables``: placeholder until its implementation lands (keeps cli/main.py stable)."""

from __future__ import annotations

import click

from cli.main import UserError


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def tables(args: tuple[str, ...]) -> None:
    """Derived tables of TRACE (being rebuilt: not available in this build)."""
    raise UserError("'tables' is not available in this build yet")
