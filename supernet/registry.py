"""A tiny named registry, the one idiom every pluggable family (spaces, proxies, scorers, orders) uses.

`register(name)` records the name on the object (`obj.name`), so a class never repeats it;
`create(name, **options)` is the one way to build a registered thing, its options checked against
the factory's signature so that a wrong option is one clear line, not a TypeError deep inside.
"""
from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """Raised when a name is not registered; its message lists the valid names."""

    def __str__(self) -> str:  # KeyError quotes its message; we want a plain line
        return str(self.args[0])


class UnknownOptionError(UnknownNameError):
    """Raised by `Registry.create` for an option the factory does not take; its message lists the valid ones."""


def factory_options(factory: Callable[..., Any]) -> tuple[tuple[str, ...], bool]:
    """The keyword options `factory` takes (class: its __init__; function: its parameters), and
    whether it takes any keyword (**kwargs)."""
    params = inspect.signature(factory).parameters.values()
    names = tuple(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
    return names, any(p.kind is p.VAR_KEYWORD for p in params)


class Registry(Generic[T]):
    """Maps names to factories (classes or functions); refuses duplicates (as NASLib's @measure does)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering `obj` under `name` and setting `obj.name = name`; a duplicate is a programming error."""

        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            obj.name = name  # type: ignore[attr-defined]
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        """The object registered as `name`, or an error naming the valid choices."""
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}"
            ) from None

    def settings(self, name: str) -> type | None:
        """The settings dataclass that `name` declares as its `Settings` (its own options), or None."""
        found = getattr(self.get(name), "Settings", None)
        return found if isinstance(found, type) and dataclasses.is_dataclass(found) else None

    def options(self, name: str) -> tuple[str, ...]:
        """The keyword options `create(name, ...)` accepts: the fields of its `Settings` and the factory's own
        parameters (empty also when it takes any keyword and declares no settings)."""
        return self._allowed(name)[0]

    def _allowed(self, name: str) -> tuple[tuple[str, ...], bool]:
        """(the options `name` accepts, whether it accepts any keyword)."""
        factory = self.get(name)
        params, anything = factory_options(factory)  # type: ignore[arg-type]
        settings = self.settings(name)
        if settings is None:
            return params, anything
        fields = tuple(f.name for f in dataclasses.fields(settings) if f.init)
        return tuple(dict.fromkeys(fields + params)), False

    def create(self, name: str, /, **options: Any) -> Any:
        """Call the factory registered as `name` with `options`; an option it does not take (neither a field of
        its `Settings` nor a parameter) is an UnknownOptionError naming the valid ones."""
        factory = self.get(name)
        allowed, anything = self._allowed(name)
        unknown = [k for k in options if k not in allowed]
        if unknown and not anything:
            which = ", ".join(repr(k) for k in unknown)
            raise UnknownOptionError(f"{self.kind} {name!r} has no option{'s' if len(unknown) > 1 else ''} {which}; "
                                     f"its options: {', '.join(allowed) or 'none'}")
        return factory(**options)  # type: ignore[operator]

    def names(self) -> list[str]:
        """Registered names in registration order."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)
