"""The publishers' registry: every kind it names has its reader, and nothing else is one."""

from __future__ import annotations

import importlib

import pytest

from advisory.domain.publishers import PUBLISHERS
from advisory.publishers import reader


@pytest.mark.parametrize("kind", sorted(PUBLISHERS))
def test_every_publisher_has_a_reader_module_of_its_name(kind: str) -> None:
    module = importlib.import_module(f"advisory.publishers.{kind.replace('-', '_')}")
    assert kind == module.KIND
    assert PUBLISHERS[kind].name == module.NAME
    assert reader(kind) is module.read
    assert PUBLISHERS[kind].url.startswith("https://")


def test_a_kind_not_in_the_registry_has_no_reader() -> None:
    with pytest.raises(KeyError):
        reader("text")  # a module of the package, but not a publisher
