"""The README's code runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)
RUNNABLE = [b for b in BLOCKS if "def test_" not in b]


@pytest.mark.parametrize("code", RUNNABLE, ids=[f"block{i}" for i in range(len(RUNNABLE))])
def test_readme_snippet_runs(code: str) -> None:
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})


def test_readme_first_test_passes_as_a_downstream_test(pytester: pytest.Pytester) -> None:
    first = next(b for b in BLOCKS if "def test_client_refreshes_an_expired_relay_token" in b)
    pytester.makepyfile(test_first=first)
    pytester.runpytest().assert_outcomes(passed=1)


def test_readme_aiohttp_and_curl_test_passes_as_a_downstream_test(
    pytester: pytest.Pytester,
) -> None:
    block = next(b for b in BLOCKS if "def test_aiohttp_client" in b)
    pytester.makepyfile(test_aiohttp_readme=block)
    pytester.runpytest().assert_outcomes(passed=1)


def test_readme_documents_every_option_and_marker() -> None:
    from pytest_relaytokens.markers import MARKERS
    from pytest_relaytokens.settings import OPTIONS

    for name in OPTIONS:
        assert f"--relaytokens-{name.replace('_', '-')}" in README, name
    for name in MARKERS:
        assert f"`{name}" in README, name
