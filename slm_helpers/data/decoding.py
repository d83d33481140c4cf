"""Turn bytes into text with the encoding the registry names, and never into mojibake."""

from __future__ import annotations

import re
from pathlib import Path


class DataEncodingError(ValueError):
    """Bytes that cannot be, or should not be, decoded with the given encoding."""


# UTF-8 read as Latin-1/Windows-1252 turns "é" into "Ã©": a capital A-tilde or A-circumflex
# followed by a character from the 0x80-0xBF range. Real English/French text almost never
# has that pair, so its presence means the encoding is wrong.
_MOJIBAKE = re.compile(
    "[\u00c2\u00c3][\u0080-\u00bf\u2018-\u201e\u2020-\u2122"
    "\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc]"
)


def decode_bytes(raw: bytes, encoding: str, *, source: str) -> str:
    """Decode ``raw`` strictly; raise :class:`DataEncodingError` naming ``source`` on failure.

    Also refuses text that decodes but looks like UTF-8 read with a single-byte encoding.
    """
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        context = raw[max(0, exc.start - 20) : exc.end + 20]
        raise DataEncodingError(
            f"{source}: byte {exc.start} ({raw[exc.start : exc.end]!r}) is not valid {encoding}; "
            f"around it: {context!r}. The file is not {encoding}: check the encoding the "
            "registry documents for it, or whether the file is corrupt."
        ) from exc
    if encoding.lower().replace("_", "-") not in ("utf-8", "utf8", "ascii"):
        match = _MOJIBAKE.search(text)
        if match:
            start = max(0, match.start() - 20)
            raise DataEncodingError(
                f"{source}: decoding as {encoding} produced {match.group()!r} in "
                f"{text[start : match.end() + 20]!r}, which is UTF-8 read as a single-byte "
                "encoding (mojibake). Decode this file as utf-8."
            )
    return text


def read_text(path: Path, encoding: str) -> str:
    """Read a file as text with :func:`decode_bytes`."""
    return decode_bytes(Path(path).read_bytes(), encoding, source=str(path))


def split_lines(text: str) -> list[str]:
    """Split on newlines only.

    ``str.splitlines`` also splits on U+0085, U+2028 and friends, which a wrongly decoded
    Windows-1252 "…" becomes; splitting on ``\\n`` keeps one sentence per line.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]
