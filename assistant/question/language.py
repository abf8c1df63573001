"""The question's language, by py3langid restricted to the languages the assistant speaks.

On the project's short questions py3langid was at least as accurate as lingua-language-detector, far faster
and half its memory (the comparison is in docs/performance.md; docs/design.md says how it is used).
"""

from __future__ import annotations

from collections.abc import Sequence


class LanguageDetector:
    """Tells which of ``languages`` a text is written in.

    Args:
        languages: ISO 639-1 codes to choose among; the first is the fallback for a text without letters.
    """

    def __init__(self, languages: Sequence[str] = ("en", "fr", "nl", "de")) -> None:
        if not languages:
            raise ValueError("languages must name at least one ISO 639-1 code, got none")
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self.languages = tuple(languages)
        self._langid = LanguageIdentifier.from_model_file(MODEL_FILE)  # the model shipped in the package
        try:
            self._langid.set_languages(list(self.languages))
        except ValueError as exc:
            raise ValueError(f"py3langid does not know one of the languages {self.languages}: {exc}") from None

    def detect(self, text: str) -> str:
        """The language of ``text`` (the first configured one for a text without letters)."""
        if not any(ch.isalpha() for ch in text):
            return self.languages[0]
        return str(self._langid.classify(text)[0])
