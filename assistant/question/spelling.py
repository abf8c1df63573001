"""Misspellings corrected against the index's own vocabulary, per language (SymSpell: symspellpy).

The dictionary is made when an index is loaded, from the words of its chunks (each counted in its chunk's
language) and its catalogue's unit names and aliases, so it follows whatever corpus was built, in whatever
languages it has, with no word list to keep. A question's word is corrected only when it is unknown: neither
in the index (in any language, or a word of the same stem in the question's) nor a common word of the
question's language (wordfreq's frequencies: a corpus of a few pages does not hold "abroad" or "where", which
are one edit from its "broad" and "were"). It must also be long enough to tell a typo from another word, not a
code or an acronym, and lie close to a word of the question's own language that the corpus uses.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping

from index import stemmer
from ingest.models import Catalogue, Chunk

# wordfreq's lists are buckets of words by frequency, one per centibel below 1 (bucket i: 10 ** (-i / 100)).
_CENTIBELS_PER_ZIPF = 100
_ZIPF_OF_ONE = 9  # the Zipf scale is log10 of a word's frequency per billion words

# Runs of letters that touch no digit, dot or underscore: "M0.1", "MD8" and "2025" are not words to spell.
_WORD = re.compile(r"(?<![\w.])[^\W\d_]+(?![\w])")


def vocabularies(chunks: Iterable[Chunk], catalogue: Catalogue | None = None) -> dict[str, Counter[str]]:
    """Each language's lower-cased words with their frequencies: the chunks' words in their chunk's language,
    plus the catalogue's unit names (each in its language; the catalogue's own names and aliases in every
    language the index has, as people use them whatever language they write in).

    Args:
        chunks: the index's chunks.
        catalogue: the index's unit catalogue, if it has one.
    """
    vocab: dict[str, Counter[str]] = {}
    for chunk in chunks:
        vocab.setdefault(chunk.language, Counter()).update(w.lower() for w in _WORD.findall(chunk.text))
    if catalogue is not None:
        for d in catalogue.directorates:
            shared = [w.lower() for p in (d.name, *d.aliases) for w in _WORD.findall(p)]
            for language, counts in vocab.items():
                counts.update(shared)
                if language in d.names:
                    counts.update(w.lower() for w in _WORD.findall(d.names[language]))  # type: ignore[index]
    return vocab


def common_words(language: str, min_zipf: float) -> frozenset[str]:
    """The words of ``language`` at least as frequent as ``min_zipf`` on the Zipf scale (wordfreq: 3 is once
    per million words); empty for a language wordfreq does not know."""
    import wordfreq

    try:
        buckets = wordfreq.get_frequency_list(language)
    except LookupError:
        return frozenset()
    last = round((_ZIPF_OF_ONE - min_zipf) * _CENTIBELS_PER_ZIPF)
    words = frozenset(w for bucket in buckets[: max(last + 1, 0)] for w in bucket)
    # wordfreq keeps every list it read (tens of MB each); the speller keeps only these words.
    wordfreq.get_frequency_list.cache_clear()
    return words


class Speller:
    """Corrects a question's misspelt words against the index's vocabulary (`vocabularies`).

    Args:
        vocabularies: each language's words and their frequencies.
        common: each language's common words (`common_words`), left alone though the index lacks them.
        also_known: more words to leave alone in every language (the units' names in languages the index has
            no chunks in: "Désarmement" in a question read as English is French, not a misspelling).
        min_length: words shorter than this are left alone (too many short words are one edit apart).
        long_word: words of at least this length may be two edits from their correction, shorter ones one.
        min_count: how often the corpus must use a word for a misspelling to be corrected to it.
    """

    def __init__(self, vocabularies: Mapping[str, Mapping[str, int]],
                 common: Mapping[str, frozenset[str]] | None = None, also_known: Iterable[str] = (), *,
                 min_length: int = 5,
                 long_word: int = 8, min_count: int = 1) -> None:
        if min_length < 1:
            raise ValueError(f"min_length must be at least 1, got {min_length}")
        if long_word < min_length:
            raise ValueError(f"long_word must be at least min_length ({min_length}), got {long_word}")
        if min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {min_count}")
        from symspellpy import SymSpell  # imported when an index is loaded, not with the package

        self.min_length, self.long_word, self.min_count = min_length, long_word, min_count
        self._known = frozenset(w for counts in vocabularies.values() for w in counts) | {
            w.lower() for w in also_known}
        self._common = dict(common or {})
        self._stems = {lang: frozenset(stemmer(lang).stemWords(list(counts))) for lang, counts in vocabularies.items()}
        self._spell: dict[str, SymSpell] = {}
        for language, counts in vocabularies.items():
            spell = SymSpell(max_dictionary_edit_distance=2, count_threshold=min_count)
            for word, count in counts.items():
                if len(word) >= min_length - 1:  # a correction is at most one letter shorter than its word
                    spell.create_dictionary_entry(word, count)
            self._spell[language] = spell

    @classmethod
    def from_index(cls, chunks: Iterable[Chunk], catalogue: Catalogue | None = None, *, min_zipf: float = 3.0,
                   **knobs: int) -> Speller:
        """The speller of one index (its chunks and catalogue): a language's words more common than
        ``min_zipf`` (`common_words`) are left alone; ``knobs``: see the class."""
        vocab = vocabularies(chunks, catalogue)
        names = [w for d in (catalogue.directorates if catalogue else ()) for n in d.names.values()
                 for w in _WORD.findall(n)]
        return cls(vocab, {lang: common_words(lang, min_zipf) for lang in vocab}, names, **knobs)

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages the index has words in."""
        return tuple(self._spell)

    def known(self, word: str, language: str) -> bool:
        """Whether the index uses ``word`` in any language, or a word of the same stem in ``language``, or it is
        a common word of ``language``."""
        lowered = word.lower()
        return lowered in self._known or lowered in self._common.get(language, ()) or (
            language in self._stems and stemmer(language).stemWord(lowered) in self._stems[language])

    def suggest(self, word: str, language: str) -> str | None:
        """The correction of one word in ``language``, or None to leave it as it is."""
        spell = self._spell.get(language)
        # A capital after the first letter (NATO, CoorMulti) makes an acronym or an in-house name, not a typo.
        if (spell is None or len(word) < self.min_length or any(c.isupper() for c in word[1:])
                or self.known(word, language)):
            return None
        from symspellpy import Verbosity

        distance = 2 if len(word) >= self.long_word else 1
        found = spell.lookup(word.lower(), Verbosity.CLOSEST, max_edit_distance=distance)
        if not found:
            return None
        best = max(found, key=lambda s: s.count)  # CLOSEST: every suggestion is at the same, smallest distance
        return best.term.capitalize() if word[0].isupper() else best.term

    def correct(self, text: str, language: str) -> str:
        """``text`` with each misspelt word replaced by its correction (`suggest`); the rest untouched.

        Args:
            text: a question.
            language: its language (ISO 639-1); a language the index has no words in is left as it is.
        """
        if language not in self._spell:
            return text
        return _WORD.sub(lambda m: self.suggest(m.group(), language) or m.group(), text)
