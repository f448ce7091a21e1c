"""The public surface: `__all__` is true everywhere, and every failure is in one tree."""

from __future__ import annotations

import importlib
import importlib.resources
import inspect
import pkgutil
from types import ModuleType

import pytest

import advisory
from advisory.errors import AdvisoryError, UsageError


def modules() -> list[ModuleType]:
    names = [m.name for m in pkgutil.walk_packages(advisory.__path__, "advisory.")]
    return [importlib.import_module(name) for name in ["advisory", *names]
            if not name.endswith("__main__")]  # fmt: skip


@pytest.mark.parametrize("module", modules(), ids=lambda m: m.__name__)
def test_every_name_in_all_is_there(module: ModuleType) -> None:
    for name in getattr(module, "__all__", ()):
        assert getattr(module, name, None) is not None, f"{module.__name__}.{name}"


@pytest.mark.parametrize("module", modules(), ids=lambda m: m.__name__)
def test_every_exception_of_ours_is_in_the_one_tree(module: ModuleType) -> None:
    for name, value in vars(module).items():
        ours = inspect.isclass(value) and value.__module__ == module.__name__
        if ours and issubclass(value, BaseException):
            assert issubclass(value, AdvisoryError), f"{module.__name__}.{name}"


def test_the_version_and_the_typed_marker_ship() -> None:
    assert advisory.__version__.count(".") == 2
    assert importlib.resources.files("advisory").joinpath("py.typed").is_file()


def test_a_command_line_mistake_is_its_own_error() -> None:
    assert issubclass(UsageError, AdvisoryError) and UsageError.exit_code == 2


def test_the_package_names_are_what_they_say_after_everything_is_imported() -> None:
    modules()  # every submodule imported: none may shadow a name of the package
    from advisory.run.run import run

    assert advisory.run_once is run
    assert callable(advisory.load_config) and callable(advisory.open_store)
