"""``python -m crawler`` runs the CLI."""

from crawler.cli.main import main

main()
