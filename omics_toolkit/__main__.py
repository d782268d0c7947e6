"""``python -m omics_toolkit`` runs the CLI."""

from omics_toolkit.cli.main import run

run()
