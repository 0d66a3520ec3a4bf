"""Moved to :mod:`pytest_relaytokens.pytest_plugin.report`; this module re-exports it so
existing imports keep working."""

from __future__ import annotations

from .pytest_plugin.report import *  # noqa: F403
from .pytest_plugin.report import __all__ as __all__
