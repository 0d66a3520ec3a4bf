"""Moved to :mod:`pytest_relaytokens.pytest_plugin.context`; this module re-exports it so
existing imports keep working."""

from __future__ import annotations

from .pytest_plugin.context import *  # noqa: F403
from .pytest_plugin.context import __all__ as __all__
