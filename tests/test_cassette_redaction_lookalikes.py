"""A declared secret that is itself shaped like one of our placeholders ("00000001") is still
replaced: its placeholder never equals the secret (found by hypothesis 6.80 in the floors cell)."""

from __future__ import annotations

import pytest

from pytest_relaytokens.cassettes.redaction import Redactor


@pytest.mark.parametrize("secret", ["00000001", "00000002", "0000000001", "redacted00000001"])
def test_declared_lookalike_secret_gets_a_different_placeholder(secret: str) -> None:
    redactor = Redactor(extra_secrets=[secret])
    placeholder = redactor.placeholder_for(secret, force=True)
    assert placeholder != secret
    assert len(placeholder) == len(secret)
    assert secret not in redactor.redact_text(f'{{"note": "{secret}"}}', "application/json")
