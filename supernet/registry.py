"""A tiny named registry, the one idiom every pluggable family (spaces, proxies, scorers, orders) uses.

`register(name)` records the name on the object (`obj.name`), so a class never repeats it;
`create(name, **options)` is the one way to build a registered thing, its options checked against
the factory's signature so that a wrong option is one clear line, not a TypeError deep inside.
"""
from __future__ import annotations

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

    def options(self, name: str) -> tuple[str, ...]:
        """The keyword options `create(name, ...)` accepts (empty also when it takes any keyword)."""
        return factory_options(self.get(name))[0]  # type: ignore[arg-type]

    def create(self, name: str, /, **options: Any) -> Any:
        """Call the factory registered as `name` with `options`; an option it does not take is an
        UnknownOptionError naming the valid ones."""
        factory = self.get(name)
        allowed, anything = factory_options(factory)  # type: ignore[arg-type]
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
