"""Safe YAML loading of cassettes: size caps, no anchors or aliases, our error type."""

from __future__ import annotations

import os
from typing import Any

import yaml

from ..errors import RelayTokensError

__all__ = ["MAX_CASSETTE_BYTES", "CassetteError", "load_yaml"]

MAX_CASSETTE_BYTES = 64 * 1024 * 1024
"""Largest cassette file that is loaded or verified."""

_BASE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _DuplicateKey(yaml.MarkedYAMLError):
    """A mapping that names a key twice (YAML says keys are unique; PyYAML keeps the last)."""


class _UniqueKeyLoader(_BASE_LOADER):  # type: ignore[misc]
    """The safe loader, refusing a mapping key given twice (with its line)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _value in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue  # a complex key fails in the constructor as before
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise _DuplicateKey(
                        "while constructing a mapping",
                        node.start_mark,
                        f"duplicate key {key_node.value[:60]!r} (YAML keys must be unique)",
                        key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


_LOADER: Any = _UniqueKeyLoader


class CassetteError(RelayTokensError, ValueError):
    """A cassette file that cannot be used: corrupt YAML, wrong structure, missing keys."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        problem: str,
        *,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path)
        self.problem = problem
        self.line = line
        self.column = column
        self.field = field
        where = f"{self.path}:{line}:{column}" if line is not None else self.path
        named = f" (field '{field}')" if field else ""
        super().__init__(f"cassette {where}: {problem}{named}")


def _yaml_error(path: str, error: yaml.YAMLError) -> CassetteError:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    if mark is not None:
        return CassetteError(
            path, f"invalid YAML: {problem}", line=mark.line + 1, column=mark.column + 1
        )
    position = getattr(error, "position", None)  # reader errors (bad characters) have no mark
    if isinstance(position, int):
        return CassetteError(path, f"invalid YAML: {problem} (at character {position})")
    return CassetteError(path, f"invalid YAML: {problem}")


def _refuse_anchors(text: str, path: str) -> None:
    """A cassette never needs anchors or aliases; refusing them stops alias bombs before
    anything is built (the event stream is linear in the text)."""
    if "&" not in text and "*" not in text:
        return
    for event in yaml.parse(text, Loader=_BASE_LOADER):
        anchor = getattr(event, "anchor", None)
        if anchor is not None or isinstance(event, yaml.AliasEvent):
            mark = event.start_mark
            raise CassetteError(
                path,
                "YAML anchors and aliases are not allowed in a cassette",
                line=mark.line + 1 if mark else None,
                column=mark.column + 1 if mark else None,
                field="yaml",
            )


def load_yaml(text: str, path: str | os.PathLike[str] = "<string>") -> Any:
    """Parse cassette YAML safely (safe loader, no anchors/aliases, no duplicate keys, size
    cap)."""
    where = str(path)
    if len(text) > MAX_CASSETTE_BYTES:
        raise CassetteError(where, f"file is larger than {MAX_CASSETTE_BYTES} bytes", field="file")
    try:
        _refuse_anchors(text, where)
        return yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as error:
        raise _yaml_error(where, error) from None
    except RecursionError:
        raise CassetteError(where, "YAML nested too deeply", field="yaml") from None
