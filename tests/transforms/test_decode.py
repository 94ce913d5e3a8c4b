from __future__ import annotations

import codecs
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import transforms.decode as decode_mod
from transforms.decode import DETECT_SAMPLE_BYTES, Decoded, decode_bytes, normalise_text
from transforms.errors import InputRejected

REASONS = {"empty", "binary", "undecodable"}
_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=300)


# ------------------------------------------------------------------------------------------ normalise_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("\ufeffKratom", "Kratom", id="leading-bom"),
        pytest.param("\ufeff\ufeffKratom", "Kratom", id="doubled-bom"),
        pytest.param("a\ufeffb", "a\ufeffb", id="inner-bom-kept"),
        pytest.param("a\r\nb\r\n", "a\nb\n", id="crlf"),
        pytest.param("a\rb\r", "a\nb\n", id="lone-cr"),
        pytest.param("a\r\r\nb", "a\n\nb", id="cr-then-crlf"),
        pytest.param("cafe\u0301", "café", id="nfd-to-nfc"),
        pytest.param("  tabs\tand  spaces  \n\n\n", "  tabs\tand  spaces  \n\n\n", id="whitespace-kept"),
        pytest.param("x\u2028y\u00a0z\u0085", "x\u2028y\u00a0z\u0085", id="other-separators-kept"),
        pytest.param("ﬁ ½ Ⅻ", "ﬁ ½ Ⅻ", id="no-compatibility-folding"),
    ],
)
def test_normalise_text(raw: str, expected: str) -> None:
    assert normalise_text(raw) == expected
    assert normalise_text(expected) == expected


@given(_TEXT)
def test_normalise_text_is_idempotent_and_has_no_cr(s: str) -> None:
    once = normalise_text(s)
    assert normalise_text(once) == once
    assert "\r" not in once
    assert not once.startswith("\ufeff")


# -------------------------------------------------------------------------------------------- decode_bytes

CP1252_SAMPLE = b"caf\xe9 \x93quoted\x94 \x96 dash"
PROSE = "Kratom – café “naïve” users\nFDA warns about seizures."


@pytest.mark.parametrize(
    ("raw", "text", "encoding", "had_bom"),
    [
        pytest.param(PROSE.encode("utf-8"), PROSE, "utf-8", False, id="utf-8"),
        pytest.param(codecs.BOM_UTF8 + PROSE.encode("utf-8"), PROSE, "utf-8", True, id="utf-8-bom"),
        pytest.param(
            codecs.BOM_UTF16_LE + PROSE.encode("utf-16-le"), PROSE, "utf-16", True, id="utf-16-le-bom"
        ),
        pytest.param(
            codecs.BOM_UTF16_BE + PROSE.encode("utf-16-be"), PROSE, "utf-16", True, id="utf-16-be-bom"
        ),
        pytest.param(
            codecs.BOM_UTF32_LE + PROSE.encode("utf-32-le"), PROSE, "utf-32", True, id="utf-32-le-bom"
        ),
        pytest.param(PROSE.encode("utf-16-le"), PROSE, "utf-16-le", False, id="utf-16-le-no-bom"),
        pytest.param(PROSE.encode("utf-16-be"), PROSE, "utf-16-be", False, id="utf-16-be-no-bom"),
        pytest.param(CP1252_SAMPLE, "café “quoted” – dash", "cp1252", False, id="cp1252"),
        pytest.param(PROSE.encode("cp1252"), PROSE, "cp1252", False, id="cp1252-prose"),
        # Latin-1 text without C1 bytes reads the same in cp1252, its superset in practice (WHATWG does too).
        pytest.param(
            "Müller über Größe: naïve résumé".encode("latin-1"),
            "Müller über Größe: naïve résumé",
            "cp1252",
            False,
            id="latin-1",
        ),
        pytest.param(b"line one\r\nline two\r\n", "line one\nline two\n", "utf-8", False, id="crlf"),
        pytest.param(b"line one\rline two\r", "line one\nline two\n", "utf-8", False, id="lone-cr"),
        pytest.param("cafe\u0301 nai\u0308ve".encode(), "café naïve", "utf-8", False, id="nfd-to-nfc"),
        pytest.param(codecs.BOM_UTF8 + b"a\r\nb", "a\nb", "utf-8", True, id="bom-and-crlf"),
    ],
)
def test_decode_bytes(raw: bytes, text: str, encoding: str, had_bom: bool) -> None:
    assert decode_bytes(raw) == Decoded(text=text, encoding=encoding, had_bom=had_bom)


def test_declared_charset_is_used_when_not_utf8() -> None:
    raw = "Kratom enthält Mitragynin – Übelkeit".encode("cp1250")
    assert decode_bytes(raw, declared="windows-1250").encoding == "cp1250"
    # A lying declaration does not win over valid UTF-8.
    assert decode_bytes("Übelkeit".encode(), declared="windows-1250").encoding == "utf-8"
    # WHATWG: an iso-8859-1 declaration means cp1252.
    assert decode_bytes(CP1252_SAMPLE, declared="ISO-8859-1").text == "café “quoted” – dash"


@pytest.mark.parametrize(
    ("raw", "reason", "detail"),
    [
        pytest.param(b"", "empty", "0 bytes", id="empty"),
        pytest.param(b" \n\t\r\n  ", "empty", "only white space", id="whitespace-only"),
        pytest.param(codecs.BOM_UTF8, "empty", "only white space", id="bom-only"),
        pytest.param(
            codecs.BOM_UTF16_LE + " \n".encode("utf-16-le"), "empty", "only white space", id="utf16-blank"
        ),
        pytest.param(b"Kratom text\x00\x00\x13\x00binary tail", "binary", "NUL bytes at offset 11", id="nul"),
        pytest.param(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "binary", "PDF signature", id="pdf"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary", "PNG signature", id="png"),
        pytest.param(b"PK\x03\x04\x14\x00\x06\x00word/document.xml", "binary", "ZIP signature", id="zip"),
        pytest.param(b"\xff\xd8\xff\xe0\x00\x10JFIF", "binary", "JPEG signature", id="jpeg"),
        pytest.param(b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "binary", "GZIP signature", id="gzip"),
        pytest.param(
            b"\x01\x02\x03 abc \x04\x05\x06" * 20, "binary", "control characters", id="control-chars"
        ),
        pytest.param(random.Random(0).randbytes(4096), "binary", "NUL bytes", id="random-bytes"),
        pytest.param(bytes(range(0x80, 0x100)), "undecodable", "no legacy encoding", id="high-bytes-only"),
        pytest.param(codecs.BOM_UTF16_LE + b"a\x00\x00\xd8", "undecodable", "invalid utf-16", id="bad-utf16"),
    ],
)
def test_decode_bytes_rejects(raw: bytes, reason: str, detail: str) -> None:
    with pytest.raises(InputRejected) as info:
        decode_bytes(raw)
    assert info.value.reason == reason
    assert detail in info.value.detail
    assert len(info.value.detail) < 80  # short and human-readable


def test_random_bytes_without_nul_are_rejected() -> None:
    raw = random.Random(1).randbytes(4096).replace(b"\x00", b"\x01")
    with pytest.raises(InputRejected) as info:
        decode_bytes(raw)
    assert info.value.reason in ("binary", "undecodable")


def test_large_utf8_never_reaches_charset_normalizer(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(_: bytes) -> None:
        raise AssertionError("charset-normalizer called on valid UTF-8")

    monkeypatch.setattr(decode_mod, "from_bytes", forbidden)
    raw = ("Kratom – café withdrawal. " * 200_000).encode()  # ~5 MB
    assert decode_bytes(raw).encoding == "utf-8"


def test_legacy_detection_inspects_a_capped_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real = decode_mod.from_bytes

    def spy(sample: bytes) -> object:
        seen.append(len(sample))
        return real(sample)

    monkeypatch.setattr(decode_mod, "from_bytes", spy)
    raw = (b"caf\xe9 \x93kratom\x94 withdrawal \x96 FDA warning.\n") * 40_000  # ~1.6 MB cp1252
    decoded = decode_bytes(raw)
    assert decoded.encoding == "cp1252"
    assert len(decoded.text) == len(raw)  # the whole file is decoded, not the sample
    assert seen and max(seen) <= DETECT_SAMPLE_BYTES


def _check_outcome(raw: bytes) -> Decoded | None:
    try:
        decoded = decode_bytes(raw)
    except InputRejected as exc:
        assert exc.reason in REASONS
        assert exc.detail
        return None
    assert normalise_text(decoded.text) == decoded.text
    assert decoded.text.strip()
    assert codecs.lookup(decoded.encoding)
    return decoded


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_decode_or_reject(raw: bytes) -> None:
    _check_outcome(raw)


@settings(max_examples=200, deadline=None)
@given(_TEXT, st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"]))
def test_encoded_text_round_trips_or_is_rejected(s: str, encoding: str) -> None:
    decoded = _check_outcome(s.encode(encoding))
    if decoded is None:
        return
    if encoding == "utf-8" and "\x00" in s:
        # UTF-8 bytes with NULs are ambiguous by nature (b"0\x00" * 8 is also UTF-16-LE "00000000"); the
        # rule is: a regular NUL pattern is read as BOM-less UTF-16/32, any other NUL means binary.
        assert decoded.encoding in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
        return
    assert decoded.text == normalise_text(s)


def test_short_nul_patterns_are_binary_not_utf16() -> None:
    with pytest.raises(InputRejected) as info:
        decode_bytes(b"0\x00\xc2\x80")  # UTF-8 for "0\x00\x80"; once decoded as UTF-16-LE "0胂"
    assert info.value.reason == "binary"
    assert decode_bytes("Kratom!!".encode("utf-16-le")).encoding == "utf-16-le"  # 16 bytes: enough


@pytest.mark.parametrize(
    ("text", "codec", "recorded"),
    [
        pytest.param(
            "Кратом — тропическое дерево. Управление по санитарному надзору предупреждает о рисках "
            "зависимости и судорог.",
            "cp1251",
            "cp1251",
            id="cyrillic-cp1251",
        ),
        pytest.param(
            "Το κράτομ είναι ένα τροπικό δέντρο. Ο FDA προειδοποιεί για κινδύνους εξάρτησης.",
            "iso-8859-7",
            "cp1253",  # the detector's name for Greek; both decode these bytes identically
            id="greek-iso-8859-7",
        ),
    ],
)
def test_non_latin_legacy_text_is_detected_and_recorded(
    monkeypatch: pytest.MonkeyPatch, text: str, codec: str, recorded: str
) -> None:
    # Not Latin script: the cp1252 preference must not win; charset-normalizer's choice is used and recorded.
    seen: list[int] = []
    real = decode_mod.from_bytes

    def spy(sample: bytes) -> object:
        seen.append(len(sample))
        return real(sample)

    monkeypatch.setattr(decode_mod, "from_bytes", spy)
    decoded = decode_bytes(text.encode(codec))
    assert seen, "charset-normalizer was not consulted"
    assert decoded == Decoded(text=text, encoding=recorded, had_bom=False)
