"""Text that reads as it is stored: no control or bidirectional-control characters.

Refused in every text field of an event (:mod:`schemas.fields`) and in the envelope's event
id: every control character (C0 with NUL, tab and line breaks, DEL, C1), the line and
paragraph separators, lone surrogates, and the Unicode Bidi_Control set (the embeddings and
overrides U+202A-U+202E, the isolates U+2066-U+2069, the marks U+200E, U+200F, U+061C).
Text reaches screens, receipts, logs and CSV exports: a right-to-left override makes a name
or an amount read otherwise than it is stored, a line break forges a log line.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)

# The same set as a JSON Schema (ECMA-262) pattern of text that holds none of it (lone
# surrogates cannot reach a JSON document's strings as text, so they are left out).
TEXT_PATTERN = (
    "^[^\\x00-\\x1f\\x7f-\\x9f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]*$"
)

_NAMES = {
    "\x00": "NUL",
    "\t": "TAB",
    "\n": "LINE FEED",
    "\r": "CARRIAGE RETURN",
    "\u061c": "ARABIC LETTER MARK",
    "\u200e": "LEFT-TO-RIGHT MARK",
    "\u200f": "RIGHT-TO-LEFT MARK",
    "\u2028": "LINE SEPARATOR",
    "\u2029": "PARAGRAPH SEPARATOR",
    "\u202a": "LEFT-TO-RIGHT EMBEDDING",
    "\u202b": "RIGHT-TO-LEFT EMBEDDING",
    "\u202c": "POP DIRECTIONAL FORMATTING",
    "\u202d": "LEFT-TO-RIGHT OVERRIDE",
    "\u202e": "RIGHT-TO-LEFT OVERRIDE",
    "\u2066": "LEFT-TO-RIGHT ISOLATE",
    "\u2067": "RIGHT-TO-LEFT ISOLATE",
    "\u2068": "FIRST STRONG ISOLATE",
    "\u2069": "POP DIRECTIONAL ISOLATE",
}


def unsafe_char(value: str) -> tuple[int, str] | None:
    """The position (from 0) and the first character of ``value`` that text may not hold."""
    bad = _UNSAFE.search(value)
    return None if bad is None else (bad.start(), bad.group())


def describe(position: int, char: str) -> str:
    """``a control or bidirectional-override character (U+202E RIGHT-TO-LEFT OVERRIDE at
    position 5)``, the position counted from 1."""
    name = _NAMES.get(char, "SURROGATE" if "\ud800" <= char <= "\udfff" else "CONTROL")
    return (
        f"a control or bidirectional-override character (U+{ord(char):04X} {name} "
        f"at position {position + 1})"
    )
