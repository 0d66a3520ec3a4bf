"""The one loopback check (RFC 6890 / RFC 5735: all of 127.0.0.0/8) and the origin check."""

from __future__ import annotations

import pytest

from pytest_relaytokens.http.urls import check_origin, check_origins, is_loopback


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "LocalHost",
        "localhost.",
        "127.0.0.1",
        "127.0.0.2",
        "127.255.255.254",
        "::1",
        "[::1]",
        "::ffff:127.0.0.1",
        "[::ffff:127.0.0.9]",
    ],
)
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host",
    [
        "",
        "128.0.0.1",
        "126.255.255.255",
        "0.0.0.0",
        "::",
        "[::]",
        "::ffff:10.0.0.1",
        "10.0.0.1",
        "localhost.example.com",
        "127.0.0.1.nip.io",
        "127.1",  # no shorthand: what a resolver makes of it is not ours to guess
        "[::1",
        "::1]",
        "fe80::1%lo",
    ],
)
def test_not_loopback_hosts(host: str) -> None:
    assert not is_loopback(host)


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("*", "*"),
        ("HTTPS://App.Example.com/", "https://app.example.com"),
        ("http://[::1]:3000", "http://[::1]:3000"),
    ],
)
def test_check_origin_normalises(value: str, kept: str) -> None:
    assert check_origin(value) == kept


@pytest.mark.parametrize(
    "value",
    ["app.example.com", "ftp://a.example", "https://a.example/path", "https://u@a.example", 3],
)
def test_check_origin_refuses_what_is_not_an_origin(value: object) -> None:
    with pytest.raises(ValueError, match="valid: '\\*' or an origin"):
        check_origin(value)


def test_check_origins_refuses_a_single_string_and_drops_duplicates() -> None:
    with pytest.raises(ValueError, match="not the single string"):
        check_origins("https://a.example")
    assert check_origins(["https://a.example", "HTTPS://A.example/"]) == ("https://a.example",)
