"""Optional generator: an OpenAI-compatible chat endpoint (a local Ollama or vLLM, say) that rewrites the
answer from the retrieved passages only, and must cite them as [n]. Off unless ``DGM_GENERATOR_URL`` is set.

The extractive answer stays the fallback: if the endpoint fails, or its text cites nothing or cites a
passage that was not given, the extractive answer is returned instead, so a bad generation never reaches
the user uncited.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import httpx

from .errors import GeneratorError
from .models import Citation

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You answer questions about Belgium's multilateral foreign policy and the DGM's directorates for the "
    "Belgian FPS Foreign Affairs. Use ONLY the numbered passages given. After every sentence, cite the "
    "passage(s) it comes from as [n]. If the passages do not answer the question, say you do not know. "
    "Answer in at most four sentences, in the language of the question."
)
_MARKER = re.compile(r"\[(\d+)\]")


class OpenAICompatibleGenerator:
    """Calls ``POST {base_url}/chat/completions`` (base_url usually ends with ``/v1``)."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout_s: float = 20.0,
                 temperature: float = 0.0, max_tokens: int = 400) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"generator URL must start with http:// or https://, got {base_url!r}")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s)
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens

    def generate(self, question: str, citations: Sequence[Citation]) -> str:
        """The generated answer; raises GeneratorError if the endpoint fails or the citations are invalid."""
        passages = "\n\n".join(f"[{c.n}] ({c.title} — {c.section or ''}) {c.text}" for c in citations)
        body = {
            "model": self.model,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": f"Passages:\n{passages}\n\nQuestion: {question}"},
            ],
        }
        try:
            resp = self._client.post("/chat/completions", json=body)
            resp.raise_for_status()
            text = resp.json()["choices"][0]["message"]["content"].strip()
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
            raise GeneratorError(f"generator endpoint failed: {exc}") from exc
        cited = {int(n) for n in _MARKER.findall(text)}
        valid = {c.n for c in citations}
        if not cited:
            raise GeneratorError("generated answer cites no passage")
        if not cited <= valid:
            raise GeneratorError(f"generated answer cites passages that were not given: {sorted(cited - valid)}")
        return text

    def rewrite(self, question: str, citations: Sequence[Citation], fallback: str) -> str:
        """The generated answer, or ``fallback`` (the extractive one) when generation fails validation."""
        if not citations:
            return fallback
        try:
            return self.generate(question, citations)
        except GeneratorError as exc:
            log.warning("%s; using the extractive answer", exc)
            return fallback

    def close(self) -> None:
        self._client.close()
