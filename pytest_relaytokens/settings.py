"""Moved to :mod:`pytest_relaytokens.pytest_plugin.options`; this module re-exports it so
existing imports keep working."""

from __future__ import annotations

from .pytest_plugin.options import *  # noqa: F403
from .pytest_plugin.options import __all__ as __all__
