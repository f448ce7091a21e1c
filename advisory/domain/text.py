"""Text from outside (a server's reply, a publisher's document, an HTTP reason) as data.

Such text is kept in the state file, logged and printed, so it must always encode, never
drive a terminal, and never name one of our own markers. Pure.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["INTERNAL", "outside", "plural", "sentences", "without_internal"]

# Private-use characters and Unicode's noncharacters: meaningless to a reader, and the
# noncharacters stand for each reader's parts until a message is composed (`models`).
INTERNAL: Final = re.compile(
    "[\ue000-\uf8ff\ufdd0-\ufdef\ufffe\uffff\U000f0000-\U0010ffff"
    + "".join(f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}"
              for plane in range(1, 15))
    + "]"
)  # fmt: skip
_SURROGATES: Final = re.compile("[\ud800-\udfff]")
# ANSI escape sequences (CSI, OSC and the two-character ones), then any control character.
_ESCAPES: Final = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-_])")
_CONTROLS: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def without_internal(text: str) -> str:
    """`text` less what input may never carry: private-use, noncharacters, lone surrogates."""
    return _SURROGATES.sub("", INTERNAL.sub("", text))


def outside(text: str, limit: int = 1000) -> str:
    """One printable line of at most `limit` characters that any store can encode.

    Bytes that were not UTF-8 (kept by a decoder as lone surrogates) are shown as `\\xe4`;
    escape sequences, control and format characters and markers go (whatever
    `str.isprintable` refuses); whitespace is folded.
    """
    if _SURROGATES.search(text):
        try:
            raw = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            text = _SURROGATES.sub("\ufffd", text)
        else:
            text = raw.decode("utf-8", "backslashreplace")
    text = _CONTROLS.sub(" ", _ESCAPES.sub("", text))
    if not text.isprintable():  # format characters, unassigned code points, markers
        text = "".join(c for c in text if c.isprintable() or c.isspace())
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plural(count: int, word: str, words: str | None = None) -> str:
    """ "1 message", "2 messages", "1 advisory", "3 advisories" (with thousands apart)."""
    return f"{count:,} {word if count == 1 else words or word + 's'}"


_BETWEEN: Final = re.compile(
    r"(?<=[.!?])(?<!\b[A-Z]\.)\s+(?=[A-Z“\"])|(?<=[.!?][”\"’])\s+(?=[A-Z“\"])"
)  # after a full stop ("U.S." is none) or a closing quote, before a capital


# Abbreviations after which a capital goes on the same sentence ("Mr. Smith", "Jan. 5").
_ABBREVIATIONS: Final = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "gen",
        "col",
        "lt",
        "sgt",
        "capt",
        "maj",
        "rev",
        "prof",
        "sen",
        "rep",
        "gov",
        "pres",
        "no",
        "nos",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "vs",
        "approx",
        "ca",
        "inc",
        "ltd",
        "corp",
        "co",
        "jr",
        "sr",
        "mt",
        "ft",
        "dept",
        "govt",
    }
)


def sentences(text: str) -> list[str]:
    """The text's sentences, one string each; a line break always ends one."""
    out: list[str] = []
    for line in text.splitlines():
        line = "".join(c for c in line if unicodedata.category(c) != "Cc")
        pieces = [s for s in _BETWEEN.split(" ".join(line.split())) if s]
        for piece in pieces:
            last = out[-1].rsplit(" ", 1)[-1].rstrip(".").lower() if out and out[-1] else ""
            if out and out[-1].endswith(".") and last in _ABBREVIATIONS and piece is not pieces[0]:
                out[-1] += " " + piece
            else:
                out.append(piece)
    return out
