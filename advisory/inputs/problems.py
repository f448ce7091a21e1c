"""Reading TOML and turning validation failures into `FILE: field.path: reason` lines.

Reasons never repeat the offending value: it may be a secret.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from advisory.errors import ConfigError, Problem

__all__ = ["field_path", "problems", "read_toml", "validate"]

M = TypeVar("M", bound=BaseModel)

MAX_FILE_BYTES = 4 * 1024 * 1024

_REASONS = {
    "extra_forbidden": "unknown field",
    "missing": "required field is missing",
    "string_type": "expected text",
    "int_type": "expected a whole number",
    "float_type": "expected a number",
    "bool_type": "expected true or false",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
    "dict_type": "expected a table",
}


def read_bytes(path: Path) -> bytes:
    """The file, or a ConfigError naming it."""
    try:
        with path.open("rb") as f:
            return f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(Problem.at(path, "", "file not found")) from None
    except OSError as e:
        raise ConfigError(Problem.at(path, "", f"cannot read: {e.strerror}")) from None


def read_toml(path: Path, raw: bytes | None = None) -> dict[str, Any]:
    """The file's table (or `raw`'s, read from it before), or a ConfigError naming the
    file, line and column."""
    raw = read_bytes(path) if raw is None else raw
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(Problem.at(path, "", f"larger than {MAX_FILE_BYTES // 2**20} MiB"))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(Problem.at(path, f"line {line}", "not valid UTF-8")) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        message = str(e)
        where = re.search(r"\(at line (\d+), column (\d+)\)", message)
        reason = re.sub(r"\s*\(at .*\)$", "", message) or "invalid TOML"
        field = f"line {where[1]}, column {where[2]}" if where else ""
        raise ConfigError(Problem.at(path, field, f"TOML syntax: {reason.lower()}")) from None
    except RecursionError:
        raise ConfigError(Problem.at(path, "", "TOML nested too deeply")) from None


def field_path(loc: tuple[int | str, ...]) -> str:
    """('subscribers', 2, 'email') -> 'subscribers[2].email'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


# Pydantic's limits, said as what is expected ({…} from the error's context).
_LIMITS = {
    "string_too_long": "expected at most {max_length} characters",
    "string_too_short": "expected at least {min_length} characters",
    "too_long": "expected at most {max_length} items",
    "too_short": "expected at least {min_length} items",
    "string_pattern_mismatch": "contains characters that are not allowed here",
}


def _reason(e: Any) -> str:
    kind, context = e["type"], e.get("ctx") or {}
    if kind in ("string_too_short", "too_short") and context.get("min_length") == 1:
        return "must not be empty"
    if kind in _LIMITS:
        return _LIMITS[kind].format_map(context)
    reason = _REASONS.get(kind) or e["msg"]
    reason = reason.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return re.sub(r"^Input should be ", "expected ", reason)


def problems(error: ValidationError, file: object) -> Iterator[Problem]:
    errors = error.errors(include_input=False, include_url=False)
    inner = {tuple(e["loc"][:-1]) for e in errors}
    for e in errors:
        if e["type"] == "too_short" and tuple(e["loc"]) in inner:
            continue  # empty only because its one item was refused: that item says why
        yield Problem.at(file, field_path(tuple(e["loc"])), _reason(e))


def validate(model: type[M], data: Mapping[str, Any], file: object, **context: Any) -> M:
    """The validated model, or one ConfigError carrying every problem at once."""
    try:
        return model.model_validate(data, context=context or None)
    except ValidationError as e:
        raise ConfigError(problems(e, file)) from None
