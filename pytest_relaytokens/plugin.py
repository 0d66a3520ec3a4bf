"""The ``pytest11`` entry point of pytest-relaytokens: the hooks and fixtures of
:mod:`pytest_relaytokens.pytest_plugin.hooks`, re-exported here so this import path (and
``-p pytest_relaytokens.plugin``) keeps working."""

from __future__ import annotations

from typing import Any

import pytest

from .pytest_plugin.hooks import (
    _relaytokens_context,
    _relaytokens_session_loopback,
    pytest_addoption,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_configure_node,
    pytest_deselected,
    pytest_generate_tests,
    pytest_report_header,
    pytest_terminal_summary,
    relay_access_token,
    relay_api,
    relay_error,
    relaytokens_backend,
    relaytokens_cassette,
    relaytokens_clock,
    relaytokens_faker,
    relaytokens_seed,
    relaytokens_server,
    relaytokens_shared_server,
    relaytokens_token_policy,
    relaytokens_ucwa_format,
    relaytokens_ucwa_quirks,
    ucwa_api,
    ucwa_error,
    ucwa_token,
    ucwa_token_response,
)


@pytest.hookimpl(optionalhook=True)
def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    """pytest-recording: a ``vcr_config`` from ``safe_vcr_config()`` keeps its leak scan on
    every vcrpy release, and the ``vcr`` marker's extra cassettes keep loading."""
    from .cassettes.vcr_config import adopt_pytest_recording

    adopt_pytest_recording(vcr)


__all__ = [
    "_relaytokens_context",
    "_relaytokens_session_loopback",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_configure_node",
    "pytest_deselected",
    "pytest_generate_tests",
    "pytest_recording_configure",
    "pytest_report_header",
    "pytest_terminal_summary",
    "relay_access_token",
    "relay_api",
    "relay_error",
    "relaytokens_backend",
    "relaytokens_cassette",
    "relaytokens_clock",
    "relaytokens_faker",
    "relaytokens_seed",
    "relaytokens_server",
    "relaytokens_shared_server",
    "relaytokens_token_policy",
    "relaytokens_ucwa_format",
    "relaytokens_ucwa_quirks",
    "ucwa_api",
    "ucwa_error",
    "ucwa_token",
    "ucwa_token_response",
]
