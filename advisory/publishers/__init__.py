"""The official publishers followed: one module per publisher (its reader), the shared
text helpers, the bounded HTTP fetch, the noise rule, and the refresh that keeps news.

Readers and the noise rule are pure; `http` and `refresh` are the only network code.
Imports the domain, the config's types and the state store's interface; never mail,
run or service.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from advisory.domain.publishers import PUBLISHERS

if TYPE_CHECKING:
    from advisory.publishers.reading import Reader

__all__ = ["reader"]


def reader(kind: str) -> Reader:
    """The reader of publisher `kind`: `read` in the module named after it, imported only
    when that publisher is followed."""
    if kind not in PUBLISHERS:
        raise KeyError(kind)
    module = importlib.import_module(f"{__name__}.{kind.replace('-', '_')}")
    read: Reader = module.read
    return read
