"""Lazy package exports (PEP 562): names load their module on first use, so importing a
package stays cheap."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str], listed: Iterable[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``.

    ``exports`` maps a public name to the module defining it: absolute, or relative to the
    package when it has no dot (``"models"``) or starts with one (``".models"``).
    """
    names = sorted({*exports, *listed})

    def module_of(name: str) -> str:
        target = exports[name]
        if target.startswith("."):
            return package + target
        return target if "." in target else f"{package}.{target}"

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_of(name)), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return names

    return __getattr__, __dir__
