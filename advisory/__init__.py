"""advisory: travel advisories, to exactly the people concerned, once.

The command line (`advisory.cli`) is the way in for an operator. For a program, the
names below: load a config, and make one run of it. They are imported when first used,
so `import advisory` (and every command's start) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

__all__ = [
    "AdvisoryError",
    "Config",
    "ConfigError",
    "Counts",
    "Purpose",
    "__version__",
    "load_config",
    "open_store",
    "run_once",
]

_WHERE = {
    "AdvisoryError": ("advisory.errors", "AdvisoryError"),
    "ConfigError": ("advisory.errors", "ConfigError"),
    "Config": ("advisory.inputs.config", "Config"),
    "load_config": ("advisory.inputs.config", "load"),
    "Counts": ("advisory.run.counts", "Counts"),
    "Purpose": ("advisory.run.plan", "Purpose"),
    "run_once": ("advisory.run.run", "run"),  # (`run` is the package of the run)
    "open_store": ("advisory.state", "open_store"),
}

if TYPE_CHECKING:
    from advisory.errors import AdvisoryError, ConfigError
    from advisory.inputs.config import Config
    from advisory.inputs.config import load as load_config
    from advisory.run.counts import Counts
    from advisory.run.plan import Purpose
    from advisory.run.run import run as run_once
    from advisory.state import open_store


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'advisory' has no attribute {name!r}")
    module, attribute = _WHERE[name]
    return getattr(importlib.import_module(module), attribute)
