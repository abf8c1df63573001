"""Helpers shared by test modules of several packages (fixtures live in the conftest.py files)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from assistant.models import Answer, Citation, DirectorateMatch, Passage
from eval.dataset import QAItem
from ingest.chunk import sentence_units
from ingest.models import Block, Chunk

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"


def passage(n: int, text: str, **fields) -> Chunk:
    """A chunk of the document "doc" at position ``n``, its sentences split as ingestion splits them (``fields``:
    any other of the chunk's fields, e.g. ``directorates``, ``themes``, ``language``, ``section``)."""
    units = tuple(sentence_units(Block(text=text, start=0, end=len(text), section=None)))
    base = dict(id=f"doc-{n:03d}-x", doc_id="doc", doc_title="Doc", section=None, position=n, text=text, start=0,
                end=len(text), content_hash="x", sentences=units)
    return Chunk(**{**base, **fields})


# -- the HTTP service -----------------------------------------------------------------------------------------
NATO = "Which directorate deals with NATO?"
TIMEOUT = httpx.Timeout(30.0)


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_in_thread(app, **options) -> Iterator[str]:
    """Serve an app with real uvicorn on a free 127.0.0.1 port (``options``: more uvicorn settings, e.g. the
    service's own); yields the base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                                           lifespan="on", **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def ask(client: httpx.Client, question: str, **fields) -> httpx.Response:
    return client.post("/api/ask", json={"question": question, **fields})


def cli_command() -> list[str]:
    """`dgm-assistant` of this interpreter's environment, else `python -m cli`."""
    script = Path(sys.executable).with_name("dgm-assistant")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli"]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without its ``DGM_*`` settings, offline, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DGM_")}
    env.update({"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}, **extra)
    return env


QUESTIONS = [
    NATO,
    "Which directorate handles cyber issues?",
    "Who is responsible for climate change negotiations?",
    "What does Belgium do about human rights at the UN?",
    "Which service handles the budget and compulsory contributions?",
    "Who deals with counter-terrorism?",
    "What is the best pizza recipe?",
    "Tell me about disarmament and non-proliferation",
]


async def ask_many(url: str, n: int, concurrency: int, time_limit_s: float,
                   stop: asyncio.Event | None = None) -> list[tuple[int, str]]:
    """Ask ``n`` questions (or until ``stop`` is set), ``concurrency`` at a time; (status, error) each."""
    results: list[tuple[int, str]] = []
    counter = iter(range(n))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        for i in counter:
            if stop is not None and stop.is_set():
                return
            try:
                r = await client.post("/api/ask", json={"question": QUESTIONS[i % len(QUESTIONS)]})
                results.append((r.status_code, "" if r.status_code == 200 else r.text[:200]))
            except httpx.HTTPError as exc:
                results.append((0, repr(exc)))

    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        await asyncio.wait_for(asyncio.gather(*(worker(client) for _ in range(concurrency))), time_limit_s)
    return results


# -- the eval tests' scripted asker, returning the assistant's real Answer type ---------------------------
def _answer(question: str, session_id: str, *, texts: list[str] = (), code: str | None = None,
            confidence: float = 0.9, abstained: bool = False, cite: tuple[int, ...] | None = None) -> Answer:
    """``texts``: the retrieved passages, best first, each where it is on `PAGE`; ``cite``: the ranks cited, in the
    order the answer refers to them (default: every one), the others being related."""
    ranked = [dict(id=f"doc#{r}", title="Page", section=None, source=None, text=t, score=1.0 / r, doc_id="doc",
                   start=PAGE.index(t), end=PAGE.index(t) + len(t), rank=r) for r, t in enumerate(texts, start=1)]
    cited = list(cite) if cite is not None else list(range(1, len(texts) + 1))
    citations = tuple(Citation(**ranked[r - 1], n=n) for n, r in enumerate(cited, start=1))
    related = tuple(Passage(**p) for p in ranked if p["rank"] not in cited)
    directorate = None if code is None else DirectorateMatch(code=code, name=code, confidence=confidence,
                                                             evidence_id=None)
    return Answer(question=question, rewritten_query=f"rewritten: {question}", answer="…",
                  abstained=abstained, citations=citations, directorate=directorate,
                  secondary_directorate=None, session_id=session_id, timings_ms={"total": 1.0}, related=related)


OTHER = "Something unrelated about the corpus."
SCRIPT = {
    # question -> keyword arguments of _answer
    "What does M1 do?": {"texts": ["The Directorate for Security Policy (M1) ...", OTHER], "code": "M1"},
    "Who handles the UN?": {"texts": [OTHER, OTHER, "The Directorate for the United Nations (M2)"],
                            "code": "M3", "confidence": 0.8, "cite": (3,)},
    "Define human rights": {"abstained": True},
    "How do I renew my passport?": {"abstained": True},
    "What is the weather in Ghent?": {"texts": [OTHER], "code": "M1", "confidence": 0.3},
    "Tell me about disarmament": {"texts": [OTHER], "code": "M5"},
    "Who handles that?": {"texts": [OTHER, "managing Belgian policy on non-proliferation"], "code": "M5"},
    "Tell me about cyber": {"texts": [OTHER], "code": "M4"},
    "And space?": {"texts": [OTHER, OTHER, OTHER, "cyber and space belong to M4"], "code": "M4",
                   "confidence": 0.6},
    "Qui gère le désarmement ?": {"texts": ["policy on non-proliferation"], "code": "M5"},
}


# The one page the scripted passages come from (each text once: one inside another is found there), and a
# sentence of it that no answer shows.
UNSHOWN = "Disarmament is followed by M5."
PAGE = "\n\n".join(dict.fromkeys(t for t in (*[t for s in SCRIPT.values() for t in s.get("texts", [])], UNSHOWN)
                                  if not any(t != u and t in u for s in SCRIPT.values() for u in s.get("texts", []))))
QRELS = ROOT / "tests" / "data" / "qrels.jsonl"  # citation labels of ITEMS over PAGE


class ScriptedAsker:
    """Deterministic answers; records every call; raises on an unscripted question."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, int]] = []

    def ask(self, question: str, session_id: str | None = None, top_k: int = 5,
            directorate: str | None = None) -> Answer:
        self.calls.append((question, session_id, top_k))
        if question not in SCRIPT:
            raise RuntimeError("index not loaded")
        return _answer(question, session_id or f"s-{len(self.calls)}", **SCRIPT[question])


def _item(id: str, kind: str, phrases: list[str], directorates: list[str], question: str | None = None,
          turns: list[str] | None = None, language: str = "en") -> QAItem:
    return QAItem(id=id, kind=kind, question=question, turns=turns, phrases=phrases,
                  directorates=directorates, language=language)


ITEMS = [
    _item("r1", "route", ["Security Policy (M1)"], ["M1"], "What does M1 do?"),
    _item("r2", "route", ["United Nations (M2)"], ["M2"], "Who handles the UN?"),
    _item("t1", "theme", ["human rights are"], [], "Define human rights"),
    _item("o1", "out_of_scope", [], [], "How do I renew my passport?"),
    _item("o2", "out_of_scope", [], [], "What is the weather in Ghent?"),
    _item("f1", "followup", ["non-proliferation"], ["M5"],
          turns=["Tell me about disarmament", "Who handles that?"]),
    _item("f2", "followup", ["cyber and space"], ["M4"], turns=["Tell me about cyber", "And space?"]),
    _item("m1", "route", ["non-proliferation"], ["M5"], "Qui gère le désarmement ?", language="fr"),
    _item("e1", "route", ["International Governance"], ["M7"], "This call fails"),
]
