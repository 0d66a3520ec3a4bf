"""The CORS origin checks shared by ``relaytokens_service_options`` and ``relaytokens serve``."""

from __future__ import annotations

import pytest

from pytest_relaytokens.http.urls import (
    MAX_ORIGIN_LENGTH,
    check_origin,
    check_origins,
)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("*", "*"),
        ("https://app.example.com", "https://app.example.com"),
        ("HTTPS://App.Example.COM/", "https://app.example.com"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("http://127.0.0.1", "http://127.0.0.1"),
    ],
)
def test_good_origins_are_normalised_as_browsers_send_them(given: str, kept: str) -> None:
    assert check_origin(given) == kept


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "app.example.com",
        "ftp://app.example.com",
        "https://",
        "https://app.example.com/path",
        "https://app.example.com?q=1",
        "https://app.example.com#x",
        "https://user:pw@app.example.com",
        "https://app.example.com:0",
        "https://app.example.com:65536",
        "https://app.example.com:port",
        "https://exämple.com",
        "https://app.example.com\r\nX-Injected: 1",
        "https://a b.example.com",
        "https://" + "a" * MAX_ORIGIN_LENGTH + ".com",
        None,
        b"https://app.example.com",
        42,
    ],
)
def test_bad_origins_raise_value_error_naming_them(bad: object) -> None:
    with pytest.raises(ValueError, match="CORS origin"):
        check_origin(bad)


def test_long_values_are_shortened_in_the_message() -> None:
    with pytest.raises(ValueError) as raised:
        check_origin("https://" + "a" * 5000)
    assert len(str(raised.value)) < 300


def test_a_list_keeps_order_and_drops_duplicates() -> None:
    assert check_origins(["https://b.example", "*", "HTTPS://b.example/"]) == (
        "https://b.example",
        "*",
    )
    assert check_origins([]) == ()


def test_a_single_string_is_not_a_list() -> None:
    with pytest.raises(ValueError, match="list of origins"):
        check_origins("https://app.example.com")
