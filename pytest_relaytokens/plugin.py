"""The ``pytest11`` entry point of pytest-relaytokens: the hooks and fixtures of
:mod:`pytest_relaytokens.pytest_plugin.hooks`, re-exported here so this import path (and
``-p pytest_relaytokens.plugin``) keeps working."""

from __future__ import annotations

from .pytest_plugin.hooks import *  # noqa: F403
from .pytest_plugin.hooks import __all__ as __all__
