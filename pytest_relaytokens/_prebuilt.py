"""Pydantic models from values a factory built valid, without validating them again.

``Prebuilt(Model)(values)`` makes the instance the way ``Model.model_construct`` does (the
fields given, defaults for the others, the set of fields given, no extras, private attributes
at their defaults) at a fraction of its cost. It trusts nothing up front: the first call also
runs ``Model.model_validate`` on the same values and keeps the shortcut only if both give equal
models with the same fields set; otherwise every call validates. Only for values the factories
make themselves: anything a user passes in goes through ``model_validate``.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Callable
from functools import partial
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

__all__ = ["Prebuilt"]

M = TypeVar("M", bound=BaseModel)

_set = object.__setattr__
_IMMUTABLE = (type(None), str, bytes, int, float, bool, tuple, frozenset, enum.Enum)


class Prebuilt(Generic[M]):
    """A fast constructor of ``model`` for already valid ``values`` (checked once, see above)."""

    def __init__(self, model: type[M]) -> None:
        self.model = model
        private = getattr(model, "__private_attributes__", None) or {}
        self._private = {name: attr.get_default() for name, attr in private.items()} or None
        fields = model.model_fields
        #: fields whose default is made per instance: a factory, or a copy of a mutable default
        self._factories: list[tuple[str, Callable[[], Any]]] = []
        for name, info in fields.items():
            if info.default_factory is not None:
                self._factories.append((name, info.default_factory))  # type: ignore[arg-type]
            elif not isinstance(info.default, _IMMUTABLE):
                self._factories.append((name, partial(copy.deepcopy, info.default)))
        made = {name for name, _ in self._factories}
        #: every field in the model's order, at its default (None where it is made per instance)
        self._template = {
            name: None if name in made else info.default for name, info in fields.items()
        }
        self._names = tuple(self._template)
        self._trusted: bool | None = None
        #: how an instance is allocated (``object.__new__`` unless the model overrides it)
        self._new: Callable[[type[M]], M] = (
            object.__new__ if model.__new__ is object.__new__ else model.__new__
        )

    def whole(
        self,
        values: dict[str, Any],
        given: frozenset[str] | None = None,
        private: dict[str, Any] | None = None,
    ) -> M:
        """Like calling it with the fields named by ``given`` (default: all), for ``values``
        holding every field in the model's order, the others at their defaults (the
        factories' own dicts): the instance takes ``values`` as its fields, unchecked.
        ``private``: private attributes to set beside their defaults."""
        if self._trusted:
            instance = self._new(self.model)
            _set(instance, "__dict__", values)
            _set(instance, "__pydantic_fields_set__", set(values if given is None else given))
            _set(instance, "__pydantic_extra__", None)
            defaults = self._private
            if private:
                private = private if defaults is None else {**defaults, **private}
            else:
                private = None if defaults is None else defaults.copy()
            _set(instance, "__pydantic_private__", private)
            return instance
        made = self(values) if given is None else self({name: values[name] for name in given})
        for name, value in (private or {}).items():
            setattr(made, name, value)
        return made

    def __call__(self, values: dict[str, Any]) -> M:
        if self._trusted:
            return self._make(values)
        if self._trusted is None:
            validated = self.model.model_validate(values)
            try:
                made = self._make(dict(values))
                self._trusted = (
                    made == validated and made.model_fields_set == validated.model_fields_set
                )
            except Exception:  # a pydantic whose internals differ: validate from now on
                self._trusted = False
            return validated
        return self.model.model_validate(values)

    def _make(self, values: dict[str, Any]) -> M:
        if tuple(values) == self._names:
            fields = values  # every field given, in the model's order: nothing to add
        else:
            fields = self._template.copy()
            fields.update(values)
            for name, factory in self._factories:
                if name not in values:
                    fields[name] = factory()
        instance = self._new(self.model)
        _set(instance, "__dict__", fields)
        _set(instance, "__pydantic_fields_set__", set(values))
        _set(instance, "__pydantic_extra__", None)
        _set(
            instance, "__pydantic_private__", None if self._private is None else dict(self._private)
        )
        return instance
