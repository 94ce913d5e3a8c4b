"""Bytes -> normalised text. Pure and fast: every step on the full input is a C-level call.

Order of checks (each one cheaper and more certain than the next):
1. empty input; 2. known binary signatures (PDF, ZIP, PNG, ...); 3. byte-order marks (UTF-8/16/32);
4. BOM-less UTF-16/32 (NUL bytes in a regular pattern), then NUL bytes anywhere = binary;
5. strict UTF-8; 6. a declared charset (HTML `<meta charset>`), then charset-normalizer on a capped sample,
   preferring cp1252 for Latin-script text. Finally the decoded text must not be mostly control characters.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass

from charset_normalizer import from_bytes
from charset_normalizer.md import mess_ratio

from transforms.errors import InputRejected

# charset-normalizer is pure Python per sample chunk: give it a bounded prefix, never the whole file.
DETECT_SAMPLE_BYTES = 128 * 1024
# mess_ratio walks characters in Python, so it only ever sees this many.
MESS_SAMPLE_CHARS = 32 * 1024
# Share of control characters (outside \t \n \v \f \r) above which decoded "text" is really binary.
MAX_CONTROL_SHARE = 0.05
CONTROL_SAMPLE_CHARS = 1024 * 1024
# BOM-less UTF-16/32 is recognised from its NUL pattern only in inputs at least this long (8 UTF-16 units).
MIN_WIDE_BYTES = 16

_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 first: its LE BOM starts with the UTF-16 LE BOM.
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# (signature, offset, label). Only signatures no plausible article starts with.
_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"%PDF-", 0, "PDF signature"),
    (b"PK\x03\x04", 0, "ZIP signature"),
    (b"PK\x05\x06", 0, "ZIP signature"),
    (b"PK\x07\x08", 0, "ZIP signature"),
    (b"\x89PNG\r\n\x1a\n", 0, "PNG signature"),
    (b"\xff\xd8\xff", 0, "JPEG signature"),
    (b"GIF87a", 0, "GIF signature"),
    (b"GIF89a", 0, "GIF signature"),
    (b"\x1f\x8b", 0, "GZIP signature"),
    (b"BZh", 0, ""),  # checked with its block magic below
    (b"\xfd7zXZ\x00", 0, "XZ signature"),
    (b"7z\xbc\xaf\x27\x1c", 0, "7-Zip signature"),
    (b"Rar!\x1a\x07", 0, "RAR signature"),
    (b"\x28\xb5\x2f\xfd", 0, "Zstandard signature"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 0, "MS Office (OLE) signature"),
    (b"\x7fELF", 0, "ELF executable signature"),
    (b"\xca\xfe\xba\xbe", 0, "Java class/Mach-O signature"),
    (b"SQLite format 3\x00", 0, "SQLite signature"),
    (b"OggS\x00", 0, "Ogg signature"),
    (b"fLaC", 0, "FLAC signature"),
    (b"\x1a\x45\xdf\xa3", 0, "Matroska/WebM signature"),
    (b"wOFF", 0, "WOFF font signature"),
    (b"wOF2", 0, "WOFF2 font signature"),
    (b"ftyp", 4, "MP4/QuickTime signature"),
)
_BZIP2 = re.compile(rb"BZh[1-9]1AY&SY")
_RIFF = re.compile(rb"RIFF.{4}(WEBP|WAVE|AVI )", re.DOTALL)
_ID3 = re.compile(rb"ID3[\x02-\x04]\x00")

# C0 controls except \t \n \v \f \r, DEL, and C1 controls (only mojibake or binary produce those).
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str  # normalised (normalise_text)
    encoding: str  # codec name actually used: "utf-8", "utf-16", "cp1252", ...
    had_bom: bool


def normalise_text(s: str) -> str:
    """Strip leading U+FEFF, turn CRLF and lone CR into LF, compose to NFC. Nothing else changes.

    All leading U+FEFFs go (not just one) so the function is idempotent on doubled BOMs from re-saved files.
    """
    if s.startswith("\ufeff"):
        s = s.lstrip("\ufeff")
    if "\r" in s:
        s = s.replace("\r\n", "\n").replace("\r", "\n")
    # normalize() runs the NFC quick-check itself and returns `s` unchanged when it passes;
    # a separate is_normalized() call would double the cost on text that needs work.
    return unicodedata.normalize("NFC", s)


def decode_bytes(raw: bytes, *, declared: str | None = None) -> Decoded:
    """Decode an input file. `declared` is an optional charset the container names (HTML `<meta charset>`),
    tried after BOMs and strict UTF-8. Raises InputRejected(empty | binary | undecodable)."""
    if not raw:
        raise InputRejected("empty", "0 bytes")
    signature = _binary_signature(raw)
    if signature:
        raise InputRejected("binary", signature)

    text, encoding, had_bom = _decode(raw, declared)
    text = normalise_text(text)
    if not text or text.isspace():
        raise InputRejected("empty", f"only white space ({len(raw):,} bytes)")
    sample = text[:CONTROL_SAMPLE_CHARS]
    n_control = len(_CONTROL.findall(sample))
    if n_control > MAX_CONTROL_SHARE * len(sample):
        raise InputRejected("binary", f"{100 * n_control / len(sample):.0f}% control characters")
    return Decoded(text=text, encoding=encoding, had_bom=had_bom)


def _binary_signature(raw: bytes) -> str | None:
    for magic, offset, label in _MAGIC:
        if raw.startswith(magic, offset) and label:
            return label
    head = raw[:16]
    if _BZIP2.match(head):
        return "BZIP2 signature"
    if _RIFF.match(head):
        return "RIFF media signature"
    if _ID3.match(head):
        return "MP3 (ID3) signature"
    return None


def _decode(raw: bytes, declared: str | None) -> tuple[str, str, bool]:
    for bom, name in _BOMS:
        if raw.startswith(bom):
            try:
                # "utf-16"/"utf-32" read the BOM for byte order and drop it; utf-8 needs it cut.
                body = raw[len(bom) :] if name == "utf-8" else raw
                return body.decode(name), name, True
            except UnicodeDecodeError as exc:
                raise InputRejected(
                    "undecodable", f"{name} BOM but invalid {name} at byte {exc.start:,}"
                ) from None

    nul = raw.find(b"\x00")
    if nul >= 0:
        wide = _bomless_wide(raw)
        if wide is not None:
            return wide
        raise InputRejected("binary", f"NUL bytes at offset {nul:,}")

    try:
        return raw.decode("utf-8"), "utf-8", False
    except UnicodeDecodeError:
        pass

    if declared:
        name = _codec_name(declared)
        if name and name not in ("utf-8", "utf-16", "utf-32"):
            try:
                return raw.decode(name), name, False
            except UnicodeDecodeError:
                pass  # the declaration lies; detect instead
    return _decode_legacy(raw)


def _bomless_wide(raw: bytes) -> tuple[str, str, bool] | None:
    """UTF-16/32 without a BOM: mostly-ASCII text has NUL in every other (every 3 of 4) byte position."""
    sample = raw[:4096]
    n = len(sample)
    if n < MIN_WIDE_BYTES:
        return None  # a NUL pattern in a few bytes is chance, not evidence (b"0\x00\xc2\x80" is not "0胂")
    candidates: list[str] = []
    if n % 4 == 0:
        q = [sample[i::4].count(0) / (n // 4) for i in range(4)]
        if q[1] > 0.9 and q[2] > 0.9 and q[3] > 0.9 and q[0] < 0.1:
            candidates.append("utf-32-le")
        elif q[0] > 0.9 and q[1] > 0.9 and q[2] > 0.9 and q[3] < 0.1:
            candidates.append("utf-32-be")
    if n >= 4 and n % 2 == 0:
        even, odd = sample[0::2].count(0) / (n // 2), sample[1::2].count(0) / (n // 2)
        if odd > 0.4 and even < 0.05:
            candidates.append("utf-16-le")
        elif even > 0.4 and odd < 0.05:
            candidates.append("utf-16-be")
    for name in candidates:
        try:
            text = raw.decode(name)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:  # real text has no NUL characters once decoded
            return text, name, False
    return None


def _codec_name(label: str) -> str | None:
    """Canonical Python codec name for a charset label; WHATWG maps latin-1/ascii labels to cp1252."""
    label = label.strip().strip("\"'").lower()
    if label in ("iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "us-ascii", "ascii"):
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _decode_legacy(raw: bytes) -> tuple[str, str, bool]:
    sample = raw
    if len(raw) > DETECT_SAMPLE_BYTES:
        # Cut at a newline/space so a multi-byte character is not split at the sample's end.
        cut = max(raw.rfind(b"\n", 0, DETECT_SAMPLE_BYTES), raw.rfind(b" ", 0, DETECT_SAMPLE_BYTES))
        sample = raw[: cut + 1] if cut > 0 else raw[:DETECT_SAMPLE_BYTES]
    matches = from_bytes(sample)
    best = matches.best()

    # charset-normalizer cannot tell cp1252 from cp1250/cp1257/... on short Latin-script text and often
    # picks the wrong one (naïve -> naďve). Our corpus is English: take cp1252 whenever it decodes and
    # reads no worse than the detector's choice (Cyrillic/Greek read as cp1252 score far worse).
    try:
        cp1252 = raw.decode("cp1252")
    except UnicodeDecodeError:
        cp1252 = None
    if cp1252 is not None:
        chaos = best.chaos if best is not None else 0.2
        if mess_ratio(cp1252[:MESS_SAMPLE_CHARS], maximum_threshold=1.0) <= chaos + 0.05:
            return cp1252, "cp1252", False

    for match in matches:
        name = _codec_name(match.encoding)
        if not name or name == "utf-8":  # strict UTF-8 already failed on the whole input
            continue
        try:
            return raw.decode(name), name, False
        except UnicodeDecodeError:
            continue  # the sample decoded but a later byte does not
    raise InputRejected("undecodable", "not UTF-8 and no legacy encoding gives plausible text")
