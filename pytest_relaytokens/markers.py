"""Moved to :mod:`pytest_relaytokens.pytest_plugin.markers`; this module re-exports it so
existing imports keep working."""

from __future__ import annotations

from .pytest_plugin.markers import *  # noqa: F403
from .pytest_plugin.markers import __all__ as __all__
