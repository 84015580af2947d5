"""``python -m crawler`` runs the CLI."""

from crawler.cli import main

main()
