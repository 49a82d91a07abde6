"""Flask CLI commands: `flask --app app rescan [--full] [--category TOKEN]`."""
from __future__ import annotations

import logging

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from . import categories
from .sync import sync_all

log = logging.getLogger(__name__)


@click.command("rescan")
@click.option("--full", is_flag=True, help="Re-read every JSON file, not only the changed ones.")
@click.option("--category", type=click.Choice(categories.TOKENS), default=None,
              help="Only this category.")
@with_appcontext
def rescan_command(full: bool, category: str | None) -> None:
    """Rebuild the database from the JSON files (the files are the truth)."""
    report = sync_all(current_app.config["DATA_DIR"], current_app.config.get("CHECKPOINT_ROOT"),
                      only=category, full=full)
    click.echo(f"rescan: {report.added} added, {report.updated} updated, {report.removed} removed, "
               f"{report.unchanged} unchanged, {len(report.problems)} problems")
    for problem in report.problems:
        click.echo(f"  problem: {problem}", err=True)


def init_app(app: Flask) -> None:
    app.cli.add_command(rescan_command)
