"""Personal data masked out of text before anything is stored: e-mail addresses, IBANs, Belgian national
register (and BIS) numbers, phone numbers, street addresses and long digit runs.

The checks are the maintained libraries' own: phone numbers are found and validated by ``phonenumbers``
(Google's libphonenumber), IBANs and national register numbers by ``python-stdnum`` (their check digits).
What only looks like one of them but fails its check is still masked, as a digit run (`Kind.NUMBER`): a
mistyped number is as personal as a valid one. Street addresses are found from per-language street words
(``streets/<lang>.yaml``) followed or preceded by a house number; a street named without a number is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path

import yaml

STREETS_DIR = Path(__file__).resolve().parent / "streets"
LANGUAGES = ("en", "fr", "nl", "de")
# The regions whose national phone formats are recognised (international +CC numbers are always found).
PHONE_REGIONS = ("BE", "NL", "DE", "FR")
# A phone number is written from its trunk prefix (0), or international (+, 00), possibly in brackets: a
# bare digit run that some plan happens to allow (a year, a resolution's number) is not taken for one.
_PHONE_START = re.compile(r"^[(\[]?(?:\+|0)")


class Kind(StrEnum):
    """What a masked span was; its placeholder in the stored text is ``[KIND]``."""

    EMAIL = "EMAIL"
    IBAN = "IBAN"
    NATIONAL_NUMBER = "NATIONAL-NUMBER"
    PHONE = "PHONE"
    ADDRESS = "ADDRESS"
    NUMBER = "NUMBER"

    @property
    def placeholder(self) -> str:
        return f"[{self.value}]"


@dataclass(frozen=True)
class Found:
    """A span of personal data in a text."""

    kind: Kind
    start: int
    end: int


_EMAIL = re.compile(r"[\w.+\-']+\s*(?:@|\[at\]|\(at\))\s*[\w\-]+(?:\s*(?:\.|\[dot\]|\(dot\))\s*[\w\-]+)+", re.I)
# IBAN-shaped: country, check digits, then 11-30 letters and digits, written solid or in groups of four.
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ \-]?[A-Z0-9]{4}){2,7}(?:[ \-]?[A-Z0-9]{1,3})?\b", re.I)
# National register / BIS number: YY.MM.DD-XXX.CC with any of the usual separators, or 11 digits solid.
_NATIONAL = re.compile(r"(?<![\w.])\d{2}[. ]?\d{2}[. ]?\d{2}[-. ]?\d{3}[. \-]?\d{2}(?![\w])")
_HOUSE = r"\d{1,4}(?:\s?[a-z](?![\w]))?(?:\s*(?:bte|boîte|bus|box|app\.?)\.?\s*\d{1,4})?"
_POSTCODE = r"(?:\s*,?\s*(?:[A-Z]{1,2}-?)?\d{4,5}\s+[A-ZÀ-Þ][\w'’\-]+)?"
_NAME_CHARS = r"[^\d,.;:!?()\[\]\n]"


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


@dataclass(frozen=True)
class StreetWords:
    """The street words of some languages (``streets/<lang>.yaml``), merged: an address in one language may
    appear in a question in another."""

    before_name: tuple[str, ...]
    word_endings: tuple[str, ...]
    after_name: tuple[str, ...]

    @classmethod
    def load(cls, languages: Iterable[str] = LANGUAGES, folder: Path = STREETS_DIR) -> StreetWords:
        before: list[str] = []
        endings: list[str] = []
        after: list[str] = []
        for lang in languages:
            path = folder / f"{lang}.yaml"
            if not path.is_file():
                raise ValueError(f"no street words for language {lang!r}: {path} is missing")
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            before += data.get("before_name") or []
            endings += data.get("word_endings") or []
            after += data.get("after_name") or []
        return cls(tuple(before), tuple(endings), tuple(after))

    def patterns(self) -> list[re.Pattern[str]]:
        out = []
        if self.before_name:
            kind = _alternation(self.before_name)
            # "rue de la Loi 16, 1000 Bruxelles" and "16, rue de la Loi"
            out.append(re.compile(rf"(?<!\w)(?:{kind})\s+{_NAME_CHARS}{{2,40}}?\s*,?\s*{_HOUSE}{_POSTCODE}(?!\w)",
                                  re.I))
            out.append(re.compile(rf"(?<!\w)\d{{1,4}}\s*,?\s+(?:{kind})\s+"
                                  rf"[\w'’\-]+(?: [\w'’\-]+){{0,3}}{_POSTCODE}", re.I))
        if self.word_endings:
            ending = _alternation(self.word_endings)
            # "Wetstraat 16, 1040 Brussel", "Hauptstraße 5a"
            out.append(re.compile(rf"(?<!\w)[\w\-]*(?:{ending})\s*,?\s*{_HOUSE}{_POSTCODE}(?!\w)", re.I))
        if self.after_name:
            kind = _alternation(self.after_name)
            # "10 Downing Street": the name's words capitalised, the street's kind in any case
            out.append(re.compile(rf"(?<!\w){_HOUSE}\s*,?\s+(?:[A-ZÀ-Þ][\w'’\-]*\s+){{1,3}}(?i:{kind})(?!\w)"
                                  rf"{_POSTCODE}"))
        return out


class Masker:
    """Finds and masks personal data.

    Args:
        languages: whose street words to use (all four by default).
        min_digits: digits in a run (separators allowed between them) from which it is masked as a number.
        phone_regions: the regions whose national phone formats are recognised.
    """

    def __init__(self, languages: Iterable[str] = LANGUAGES, min_digits: int = 7,
                 phone_regions: Iterable[str] = PHONE_REGIONS) -> None:
        if min_digits < 3:
            raise ValueError(f"min_digits must be at least 3, got {min_digits}")
        self.min_digits = min_digits
        self.phone_regions = tuple(r.upper() for r in phone_regions)
        self.streets = StreetWords.load(languages)
        self._digits = re.compile(rf"(?<!\w)(?:[A-Za-z]{{2}})?\d(?:[ .\-/]?\d){{{min_digits - 1},}}(?!\w)")

    @cached_property
    def _address_patterns(self) -> list[re.Pattern[str]]:
        return self.streets.patterns()

    def find(self, text: str) -> list[Found]:
        """The spans of personal data in ``text``, in order, none overlapping (the first kind found wins:
        e-mail, IBAN, national number, phone, address, digit run)."""
        found: list[Found] = []

        def free(start: int, end: int) -> bool:
            return all(end <= f.start or start >= f.end for f in found)

        def add(kind: Kind, start: int, end: int) -> None:
            if end > start and free(start, end):
                found.append(Found(kind, start, end))

        for m in _EMAIL.finditer(text):
            if "@" in m.group() or re.search(r"\[at\]|\(at\)", m.group(), re.I):
                add(Kind.EMAIL, m.start(), m.end())
        for m in _IBAN.finditer(text):
            span = _valid_iban(text, m.start(), m.end())
            if span is not None:
                add(Kind.IBAN, *span)
        for m in _NATIONAL.finditer(text):
            if _valid_national_number(m.group()):
                add(Kind.NATIONAL_NUMBER, m.start(), m.end())
        for start, end in self._phones(text):
            add(Kind.PHONE, start, end)
        for pattern in self._address_patterns:
            for m in pattern.finditer(text):
                if any(ch.isdigit() for ch in m.group()):
                    add(Kind.ADDRESS, m.start(), m.end())
        for m in self._digits.finditer(text):
            add(Kind.NUMBER, m.start(), m.end())
        return sorted(found, key=lambda f: f.start)

    def _phones(self, text: str) -> list[tuple[int, int]]:
        import phonenumbers

        spans: list[tuple[int, int]] = []
        for region in self.phone_regions:
            for match in phonenumbers.PhoneNumberMatcher(text, region):
                digits = sum(ch.isdigit() for ch in match.raw_string)
                if _PHONE_START.match(match.raw_string) and digits >= self.min_digits:
                    spans.append((match.start, match.end))
        return spans

    def mask(self, text: str | None) -> str | None:
        """``text`` with each span of personal data replaced by its placeholder (``[EMAIL]``, ``[PHONE]`` ...);
        None stays None."""
        if not text:
            return text
        out, last = [], 0
        for f in self.find(text):
            out += [text[last:f.start], f.kind.placeholder]
            last = f.end
        out.append(text[last:])
        return "".join(out)


def _valid_iban(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The longest valid IBAN starting at ``start`` within ``text[start:end]`` (the pattern may have taken
    a following word or number), as a span; None if there is none."""
    from stdnum import iban

    candidate = text[start:end]
    cut = len(candidate)
    while cut >= 15:
        if iban.is_valid(candidate[:cut]):
            return start, start + cut
        cut -= 1
    return None


def _valid_national_number(value: str) -> bool:
    from stdnum.be import bis, nn

    return bool(nn.is_valid(value) or bis.is_valid(value))


__all__ = ["LANGUAGES", "PHONE_REGIONS", "Found", "Kind", "Masker", "StreetWords"]
