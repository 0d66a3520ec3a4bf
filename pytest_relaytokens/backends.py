"""Moved to :mod:`pytest_relaytokens.pytest_plugin.backends`; this module re-exports it so
existing imports keep working."""

from __future__ import annotations

from .pytest_plugin.backends import *  # noqa: F403
from .pytest_plugin.backends import __all__ as __all__
