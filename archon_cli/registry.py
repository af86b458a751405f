"""The one shape of the project's registries (components, benchmarks, search algorithms, final
stages): names in a fixed order, each with its entry and a one-line description. Help texts,
listings and the README's tables are read from them (tests/test_registry.py checks the README)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from archon_cli.errors import UserError

T = TypeVar("T")


@dataclass(frozen=True)
class Registered(Generic[T]):
    name: str
    entry: T
    description: str


class Registry(Generic[T]):
    """Name -> entry, in the order given; ``what`` names the kind in messages ("benchmark")."""

    def __init__(self, what: str, entries: list[tuple[str, T, str]]) -> None:
        self.what = what
        self._items: dict[str, Registered[T]] = {}
        for name, entry, description in entries:
            if name in self._items:
                raise ValueError(f"{what} {name!r} registered twice")
            self._items[name] = Registered(name, entry, description)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, name: str) -> T:
        return self._items[name].entry

    def get(self, name: str) -> T | None:
        item = self._items.get(name)
        return item.entry if item is not None else None

    def names(self) -> list[str]:
        return list(self._items)

    def values(self) -> list[T]:
        return [item.entry for item in self._items.values()]

    def items(self) -> list[tuple[str, T]]:
        return [(name, item.entry) for name, item in self._items.items()]

    def described(self) -> list[tuple[str, str]]:
        """(name, one-line description) in order: for listings and the README's tables."""
        return [(name, item.description) for name, item in self._items.items()]

    def description(self, name: str) -> str:
        return self._items[name].description

    def choices(self) -> str:
        """The names for a help text: "gp, random or greedy"."""
        names = self.names()
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"

    def lookup(self, name: str) -> T:
        """The entry, or a one-line UserError naming the choices."""
        item = self._items.get(name)
        if item is None:
            raise UserError(f"unknown {self.what} {name!r} (expected one of: {', '.join(self._items)})")
        return item.entry


def import_target(target: str) -> Any:
    """What a lazy entry names, "package.module:Name", imported now (a registry that ``--help``
    reads holds such names, so that listing it imports nothing heavy)."""
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)
