"""Where things are: the repository root (for subprocesses run as a user runs them)."""

from __future__ import annotations

from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
SUPPORT = str(Path(__file__).resolve().parent)
