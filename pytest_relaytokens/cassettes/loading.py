"""Safe loading of cassettes: size caps, no anchors or aliases, our error type, one parse.

A cassette is read as an event stream and composed one top-level value (one interaction) at
a time, so a file is parsed once and memory is bounded by its largest interaction. vcrpy's
JSON cassettes (``serializer="json"``) are read the same way: JSON is YAML, once its
surrogate-pair escapes are written as one ``\\U`` escape (libyaml refuses a lone half).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import yaml

from ..errors import RelayTokensError

__all__ = ["MAX_CASSETTE_BYTES", "CassetteError", "iter_cassette", "load_yaml"]

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
        named = f" (field '{field}')" if field and field not in problem else ""
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


@contextlib.contextmanager
def _reading(loader: Any, where: str) -> Iterator[None]:
    """What the YAML loader raises as our error naming the file (and line), never a traceback
    from inside it; the loader freed however reading ends."""
    try:
        yield
    except yaml.YAMLError as error:
        raise _yaml_error(where, error) from None
    except RecursionError:
        raise CassetteError(where, "YAML nested too deeply", field="yaml") from None
    finally:
        loader.dispose()


def _at_event(path: str, event: Any, message: str, **fields: Any) -> CassetteError:
    """A CassetteError at where ``event`` starts in the file (1-based line and column)."""
    mark = event.start_mark
    return CassetteError(
        path,
        message,
        line=mark.line + 1 if mark else None,
        column=mark.column + 1 if mark else None,
        **fields,
    )


def _refused(event: Any, path: str) -> CassetteError:
    return _at_event(
        path, event, "YAML anchors and aliases are not allowed in a cassette", field="yaml"
    )


def _compose(loader: Any, path: str) -> Any:
    """The next node of ``loader``'s event stream (anchors and aliases refused: a cassette
    never needs them, and refusing them stops alias bombs before anything is built)."""
    event: Any = loader.get_event()
    if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
        raise _refused(event, path)
    tag = event.tag
    if isinstance(event, yaml.ScalarEvent):
        if tag is None or tag == "!":
            tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        node: Any = yaml.ScalarNode(tag, event.value, None, None, event.style)
        node.start_mark, node.end_mark = event.start_mark, event.end_mark
        return node
    if isinstance(event, yaml.SequenceStartEvent):
        if tag is None or tag == "!":
            tag = loader.resolve(yaml.SequenceNode, None, event.implicit)
        items: list[Any] = []
        node = yaml.SequenceNode(tag, items, None, None, event.flow_style)
        node.start_mark = event.start_mark
        while not loader.check_event(yaml.SequenceEndEvent):
            items.append(_compose(loader, path))
        node.end_mark = loader.get_event().end_mark
        return node
    if tag is None or tag == "!":
        tag = loader.resolve(yaml.MappingNode, None, event.implicit)
    pairs: list[Any] = []
    mapping: Any = yaml.MappingNode(tag, pairs, None, None, event.flow_style)
    mapping.start_mark = event.start_mark
    while not loader.check_event(yaml.MappingEndEvent):
        key = _compose(loader, path)
        pairs.append((key, _compose(loader, path)))
    mapping.end_mark = loader.get_event().end_mark
    return mapping


_SURROGATE_PAIR = re.compile(
    r"(?<!\\)((?:\\\\)*)\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})"
)


def _json_line(line: str) -> str:
    """``\\ud83d\\ude00`` (JSON) as ``\\U0001f600`` (YAML): libyaml reads no surrogates."""
    if "\\u" not in line:
        return line

    def join(match: re.Match[str]) -> str:
        high, low = int(match.group(2), 16), int(match.group(3), 16)
        code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        return f"{match.group(1)}\\U{code:08x}"

    return _SURROGATE_PAIR.sub(join, line)


class _LineReader:
    """A text stream over ``lines`` for the YAML parser, handing the lines of each read
    (and the number of the first, from 1) to ``on_lines``."""

    def __init__(
        self, lines: Iterable[str], on_lines: Callable[[int, list[str]], None] | None, json: bool
    ) -> None:
        self._lines = iter(lines)
        self._on_lines = on_lines
        self._json = json
        self._buffer = ""
        self._offset = 0
        self._number = 0

    def read(self, size: int = -1) -> str:
        pieces = [self._buffer[self._offset :]]
        have = len(pieces[0])
        read: list[str] = []
        while size < 0 or have < size:
            line = next(self._lines, None)
            if line is None:
                break
            read.append(line)
            pieces.append(_json_line(line) if self._json else line)
            have += len(pieces[-1])
        if read and self._on_lines is not None:
            self._on_lines(self._number + 1, read)
        self._number += len(read)
        text = "".join(pieces) if len(pieces) > 1 else pieces[0]
        if size < 0 or len(text) <= size:
            self._buffer, self._offset = "", 0
            return text
        self._buffer, self._offset = text, size
        return text[:size]


def iter_cassette(
    lines: Iterable[str],
    path: str | os.PathLike[str] = "<string>",
    *,
    json: bool = False,
    on_lines: Callable[[int, list[str]], None] | None = None,
) -> Iterator[tuple[str | int, Any]]:
    """The top level of a cassette, one value at a time: ``(index, interaction)`` for each
    item of ``interactions`` and ``(key, value)`` for every other key, parsed once. An
    empty file yields nothing. ``on_lines(first line number, lines)`` sees the file's lines
    as they are read. :class:`CassetteError` names the problem and the line."""
    where = str(path)
    loader = _LOADER(_LineReader(lines, on_lines, json))
    with _reading(loader, where):
        loader.get_event()  # stream start
        if loader.check_event(yaml.StreamEndEvent):
            return
        loader.get_event()  # document start
        if not loader.check_event(yaml.MappingStartEvent):
            data = loader.construct_document(_compose(loader, where))
            raise CassetteError(
                where,
                "not a vcrpy cassette: the top level must be a mapping with "
                f"'interactions' (got {type(data).__name__})",
            )
        start = loader.get_event()
        if getattr(start, "anchor", None) is not None:
            raise _refused(start, where)
        seen: set[Any] = set()
        while not loader.check_event(yaml.MappingEndEvent):
            key_node = _compose(loader, where)
            key = loader.construct_document(key_node)
            if not isinstance(key, (str, int, float, bool, type(None))) or key in seen:
                mark = key_node.start_mark
                raise CassetteError(
                    where,
                    f"invalid YAML: duplicate or complex key {str(key)[:60]!r} at the top level",
                    line=mark.line + 1,
                    column=mark.column + 1,
                )
            seen.add(key)
            if key == "interactions" and loader.check_event(yaml.SequenceStartEvent):
                event = loader.get_event()
                if getattr(event, "anchor", None) is not None:
                    raise _refused(event, where)
                index = 0
                while not loader.check_event(yaml.SequenceEndEvent):
                    yield index, loader.construct_document(_compose(loader, where))
                    index += 1
                loader.get_event()
            else:
                yield str(key), loader.construct_document(_compose(loader, where))
        loader.get_event()  # mapping end
        loader.get_event()  # document end
        if not loader.check_event(yaml.StreamEndEvent):
            raise _at_event(
                where, loader.peek_event(), "invalid YAML: more than one document in a cassette"
            )


def load_yaml(text: str, path: str | os.PathLike[str] = "<string>") -> Any:
    """Parse cassette YAML safely (safe loader, no anchors/aliases, no duplicate keys, size
    cap), in one pass."""
    where = str(path)
    if len(text) > MAX_CASSETTE_BYTES:
        raise CassetteError(where, f"file is larger than {MAX_CASSETTE_BYTES} bytes", field="file")
    loader = _LOADER(text)
    with _reading(loader, where):
        loader.get_event()  # stream start
        if loader.check_event(yaml.StreamEndEvent):
            return None
        loader.get_event()  # document start
        node = _compose(loader, where)
        loader.get_event()  # document end
        if not loader.check_event(yaml.StreamEndEvent):
            mark = loader.peek_event().start_mark
            raise CassetteError(
                where,
                "invalid YAML: expected a single document in the stream",
                line=mark.line + 1 if mark else None,
                column=mark.column + 1 if mark else None,
            )
        return loader.construct_document(node)
