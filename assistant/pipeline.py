"""The assistant: question (+ conversation) -> retrieval -> routing -> scope check -> cited answer."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from index import Embedder, SearchIndex
from ingest.models import Catalogue

from .compose import abstention_text, cite, compose, suggestion_topics
from .errors import InputError, SessionsUnavailable
from .models import Answer, DirectorateMatch, Hit, Routing, Trace, Turn
from .question import SERVICE_KIND, KindModel, LanguageDetector, QuestionReader, Speller
from .retrieve import RetrievalOptions, Retriever
from .route import Router, RouterWeights, speaks_for
from .scope import EVIDENCE_DEPTH, ScopeWeights, scope
from .sessions import SESSION_ID_RE, FirstTurnTokens, MemorySessionStore, SessionStore, new_session_id

log = logging.getLogger(__name__)

# Said with an answer whose conversation could not be continued (the answer reads the question on its own).
NOTICE_UNAVAILABLE = ("The conversation could not be restored just now, so this question was answered on its "
                      "own; a new conversation has started.")
NOTICE_UNKNOWN = ("This conversation has expired or is unknown, so this question was answered on its own; a new "
                  "conversation has started.")

def _localized(match: DirectorateMatch | None, catalogue: Catalogue, language: str | None) -> DirectorateMatch | None:
    """The match with the unit's name in the question's language (`Directorate.name_in`)."""
    if match is None:
        return None
    try:
        return replace(match, localized_name=catalogue.get(match.code).name_in(language))
    except KeyError:
        return replace(match, localized_name=match.name)


@dataclass(frozen=True)
class AskOptions:
    """Per-configuration knobs (the eval's --compare builds several). The limits and the mode come from the
    settings (`assistant.factory.ask_options`); the switches turn stages off for the naive baselines."""

    mode: str  # hybrid | dense | bm25
    abstain_threshold: float | None  # None: the fit's (`ScopeWeights.threshold`)
    max_question_chars: int
    max_top_k: int
    # Which passages are sources (`assistant.compose.cite` / `compose`): the settings cite_unquoted_ratio and
    # quote_later_ratio; and how many topics a refusal offers.
    unquoted_ratio: float | None
    later_ratio: float
    suggestions: int
    use_router: bool = True  # off: the directorate is the best passage's label
    use_abstention: bool = True  # off: always answer
    use_followups: bool = True  # off: the turns are concatenated


class Engine:
    """The heavy, shareable part: one index, its question reader, retriever, router and the scope model fit
    for it. Swapped whole on a rebuild."""

    def __init__(self, index: SearchIndex, embedder: Embedder, retriever: Retriever, router: Router,
                 reader: QuestionReader, scope_weights: ScopeWeights | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.retriever = retriever
        self.router = router
        self.reader = reader
        self.scope_weights = scope_weights or ScopeWeights()
        self.doc_ids = frozenset(c.doc_id for c in index.chunks)
        # Page titles embedded as questions: stored at build time, else embedded here once (an older index).
        self._titles = dict(index.title_vectors)
        missing = [t for t in dict.fromkeys(c.doc_title for c in index.chunks) if t not in self._titles]
        self._titles.update((t, embedder.encode_query(t)) for t in missing)

    def offered(self, hits: Sequence[Hit], kind: str) -> float:
        """How much the pages of ``hits`` read as offering ``kind`` (a service, say): the question-kind
        classifier's probability of their titles, read as questions, at most. A consular page titled
        "Registering a birth abroad" reads as a request for a service; a policy page does not. 0 without a
        classifier."""
        kinds = self.reader.kinds
        if kinds is None:
            return 0.0
        return max((kinds.probabilities(self._titles[h.chunk.doc_title]).get(kind, 0.0) for h in hits
                    if h.chunk.doc_title in self._titles), default=0.0)


@dataclass(frozen=True)
class _Conversation:
    key: str  # the conversation's id (what the store keys it by)
    history: list[Turn]  # earlier turns, oldest first
    first: Turn | None  # the first turn from a token, not stored yet
    notice: str | None  # said with the answer: the conversation the client named could not be continued


class Assistant:
    """Answers questions with citations and the matching directorate, or abstains.

    Args:
        engine: the loaded index, retriever and router.
        sessions: the conversation store (memory or Redis).
        tokens: what issues and reads first-turn tokens (a first turn is not stored: `assistant.sessions`).
        options: retrieval mode and which stages are on.
        generator: an optional generator that rewrites the extractive answer from the same passages.
        scope_weights: a scope model to use instead of the engine's own fit (experiments).
    """

    def __init__(self, engine: Engine, options: AskOptions, sessions: SessionStore | None = None,
                 generator=None, scope_weights: ScopeWeights | None = None,
                 tokens: FirstTurnTokens | None = None) -> None:
        self._engine = engine
        self._scope_weights = scope_weights
        self._swap_lock = threading.Lock()
        self.sessions = sessions if sessions is not None else MemorySessionStore()  # (an empty one is falsy)
        self.tokens = tokens or FirstTurnTokens()
        self.options = options
        self.generator = generator

    # -- construction -------------------------------------------------------------------------------------
    @staticmethod
    def build_engine(index: SearchIndex, embedder: Embedder, retrieval: RetrievalOptions, *,
                     router_weights: RouterWeights | None = None, scope_weights: ScopeWeights | None = None,
                     reranker=None, detector: LanguageDetector | None = None,
                     kinds: KindModel | None = None, speller: Speller | None = None) -> Engine:
        """The engine of ``index``; ``retrieval``: the `Retriever`'s knobs (candidates, fusion, weights, ...);
        the weights and ``kinds`` (what a question asks for): the fit for this index (`assistant.fit.load_fit`),
        the code's defaults when None."""
        if index.catalogue is None:
            raise InputError("index", f"the index at {index.path} has no directorate catalogue; "
                             "run `dgm-assistant build` to rebuild it")
        retriever = Retriever(index, embedder, retrieval, reranker=reranker)
        router = Router(index.catalogue, embedder, index.chunks, router_weights, stored=index.vectors_of)
        reader = QuestionReader(index.catalogue, detector=detector or LanguageDetector(), kinds=kinds,
                                speller=speller)
        return Engine(index, embedder, retriever, router, reader, scope_weights)

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def abstain_threshold(self) -> float:
        """The in-scope probability below which it abstains: the setting's, else the fit's."""
        t = self.options.abstain_threshold
        return t if t is not None else self.scope_weights.threshold

    @property
    def scope_weights(self) -> ScopeWeights:
        return self._scope_weights or self._engine.scope_weights

    @property
    def catalogue(self):
        return self._engine.router.catalogue

    def swap_engine(self, engine: Engine) -> None:
        """Replace the index atomically: requests in flight finish on the engine they started with."""
        with self._swap_lock:
            self._engine = engine

    def reload_if_changed(self, index_dir: Path, load: Callable[[Path], Engine]) -> bool:
        """Load a rebuilt index if the index folder now points elsewhere; returns True when swapped.

        ``load``: makes the engine of an index folder (`assistant.factory.engine_loader`), its fit included.
        """
        folder = Path(index_dir).resolve()
        if folder == self._engine.index.path:
            return False
        engine = load(Path(index_dir))
        self.swap_engine(engine)
        log.info("index reloaded from %s (%d chunks)", folder, len(engine.index.chunks))
        return True

    def clear_caches(self) -> None:
        """Forget cached query vectors, so a measurement starts cold."""
        clear = getattr(self._engine.embedder, "clear_cache", None)
        if clear is not None:
            clear()

    # -- validation ---------------------------------------------------------------------------------------
    def _validate(self, question: str, session_id: str | None, top_k: int, directorate: str | None,
                  document: str | None) -> tuple[str, str | None]:
        if not isinstance(question, str) or not question.strip():
            raise InputError("question", "must not be empty")
        # Control characters are dropped; markup is kept as plain text (it is never interpreted).
        clean = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in question).strip()
        if not clean:
            raise InputError("question", "must contain some text, not only control characters")
        if len(clean) > self.options.max_question_chars:
            raise InputError("question", f"must be at most {self.options.max_question_chars} characters, "
                             f"got {len(clean)}")
        if session_id is not None and not SESSION_ID_RE.match(session_id):
            raise InputError("session_id", "must be a session_id this service issued (8 to 64 letters, digits, "
                             "'-' or '_', or a first answer's token)")
        if not 1 <= top_k <= self.options.max_top_k:
            raise InputError("top_k", f"must be between 1 and {self.options.max_top_k}, got {top_k}")
        code = None
        if directorate is not None:
            try:
                code = self.catalogue.get(directorate).code
            except KeyError:
                raise InputError("directorate", f"unknown code {directorate!r}; known: "
                                 f"{', '.join(self.catalogue.codes)}") from None
        if document is not None and document not in self._engine.doc_ids:
            raise InputError("document", f"unknown document {document!r}; known: "
                             f"{', '.join(sorted(self._engine.doc_ids))}")
        return clean, code

    # -- answering ----------------------------------------------------------------------------------------
    def ask(self, question: str, session_id: str | None = None, top_k: int = 5, directorate: str | None = None,
            document: str | None = None, trace: bool = False) -> Answer:
        """Answer one question in a conversation.

        Args:
            question: the user's message (a follow-up is resolved from the session's earlier turns).
            session_id: continue this conversation; a new id is made when None.
            top_k: how many passages to retrieve (1..20): those the answer stands on are its citations, the
                others its related passages.
            directorate: restrict passages to this directorate's and route to it.
            document: restrict passages to this document id.
            trace: also return what each stage saw (`Answer.trace`), for the evaluation and the tuning.
        """
        t_start = time.perf_counter()
        timings: dict[str, float] = {}
        engine = self._engine  # one engine for the whole request, even if a swap happens meanwhile
        opts = self.options
        text, code = self._validate(question, session_id, top_k, directorate, document)
        conv = self._conversation(session_id)
        sid, history, notice = conv.key, conv.history, conv.notice
        q = engine.reader.read(text, history, use_followups=opts.use_followups)

        t = time.perf_counter()
        # Keyword-only retrieval embeds only for the router and the scope decision.
        embed = opts.mode != "bm25" or opts.use_router or opts.use_abstention
        qv = engine.embedder.encode_query(q.embed_text) if embed else None
        timings["embed"] = (time.perf_counter() - t) * 1000
        q = engine.reader.classify(q, qv)  # what it asks for, read from its embedding
        retrieval = engine.retriever.retrieve(q.spelled, k=top_k, query_vec=qv, doc_id=document,
                                              directorate=code, timings=timings, mode=opts.mode,
                                              language=q.language)
        hits = list(retrieval.hits)

        t = time.perf_counter()
        if not opts.use_router or qv is None:
            routing = engine.router.top_label(hits)  # the naive baseline: the best passage's label
        else:
            routing = engine.router.route(q, qv, hits, restrict=code)
        timings["route"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        decision = scope(q, retrieval, routing if opts.use_router else None, self.scope_weights, query_vec=qv,
                         offered=engine.offered(retrieval.hits[:EVIDENCE_DEPTH], SERVICE_KIND))
        abstained = opts.use_abstention and decision.probability < self.abstain_threshold
        catalogue = engine.router.catalogue
        if abstained:
            suggestions = suggestion_topics(hits, catalogue, q.language, limit=opts.suggestions)
            answer = Answer(question=text, rewritten_query=q.query,
                            answer=abstention_text(suggestions, q.kind, q.language),
                            abstained=True, citations=(), directorate=None, secondary_directorate=None,
                            session_id=sid, timings_ms={}, in_scope=round(decision.probability, 4),
                            is_followup=q.is_followup, suggestions=suggestions, language=q.language)
        else:
            if opts.use_router and routing.primary is not None and routing.primary.evidence_id:
                hits = self._with_evidence(engine, hits, routing, top_k, lead=q.asks_unit)
            composed = compose(q.query, hits, routing, q.asks_unit, later_ratio=opts.later_ratio,
                               language=q.language, catalogue=catalogue)
            citations, related = cite(hits, composed, routing, unquoted_ratio=opts.unquoted_ratio)
            body = composed.text
            if self.generator is not None:
                body = self.generator.rewrite(q.query, citations, fallback=body)
            answer = Answer(question=text, rewritten_query=q.query, answer=body, abstained=False,
                            citations=citations, directorate=_localized(routing.primary, catalogue, q.language),
                            secondary_directorate=_localized(routing.secondary, catalogue, q.language), session_id=sid,
                            timings_ms={}, in_scope=round(decision.probability, 4),
                            is_followup=q.is_followup, language=q.language, related=related)
        timings["compose"] = (time.perf_counter() - t) * 1000
        turn = Turn(question=text, rewritten=q.query, topic=q.topic,
                    directorate=answer.directorate.code if answer.directorate else None, abstained=abstained)
        sid = self._remember(conv, turn)
        timings["total"] = (time.perf_counter() - t_start) * 1000
        seen = Trace(question=q, retrieval=retrieval, routing=routing, scope=decision) if trace else None
        return replace(answer, session_id=sid, timings_ms={k: round(v, 3) for k, v in timings.items()},
                       trace=seen, notice=notice)

    def _conversation(self, session_id: str | None) -> _Conversation:
        """The conversation a turn belongs to: a stored one, one begun by a first-turn token, or a new one.
        A conversation that cannot be found (or read now) starts anew under a new id, never under the one
        the client sent, with a notice saying so."""
        if session_id is None:
            return _Conversation(new_session_id(), [], None, None)
        token = self.tokens.read(session_id) if "." in session_id else None
        if "." in session_id and token is None:  # forged, damaged or expired
            return _Conversation(new_session_id(), [], None, NOTICE_UNKNOWN)
        key = token[0] if token else session_id
        try:
            history = self.sessions.history(key)
        except SessionsUnavailable:
            if token:  # the token's turn is context enough; it is stored (or carried on) after answering
                return _Conversation(key, [token[1]], token[1], None)
            return _Conversation(new_session_id(), [], None, NOTICE_UNAVAILABLE)
        if history:  # stored already (a client that keeps sending the first answer's token is served too)
            return _Conversation(key, history, None, None)
        if token:
            return _Conversation(key, [token[1]], token[1], None)
        return _Conversation(new_session_id(), [], None, NOTICE_UNKNOWN)

    def _remember(self, conv: _Conversation, turn: Turn) -> str:
        """Keep the turn and return the session id the answer carries: a first turn is not stored, its
        answer carries a token; a later turn is stored (with the token's turn, for the second one). When
        the store fails, the answer carries a token of this turn under a new id, so the next follow-up
        still has its context."""
        if not conv.history:
            return self.tokens.issue(conv.key, turn)
        try:
            self.sessions.append(conv.key, turn, first=conv.first)
        except SessionsUnavailable as exc:
            log.info("turn of session %s not saved: %s", conv.key[:8], exc)
            return self.tokens.issue(new_session_id(), turn)
        return conv.key

    @staticmethod
    def _with_evidence(engine: Engine, hits: list[Hit], routing: Routing, top_k: int, lead: bool) -> list[Hit]:
        """Make sure a passage that names the routed directorate is cited, first for "who" questions.

        For those, the best-ranked retrieved passage that speaks for the unit (`route.speaks_for`) leads: the
        unit's remit passage, or a page saying that this unit follows the topic asked about, which answers it
        more closely (and which the answer then quotes, `compose`). Without one, the remit passage is brought
        in (first for "who" questions, else last)."""
        primary = routing.primary
        if primary is None:
            return hits
        if lead:
            catalogue = engine.router.catalogue
            naming = next((h for h in hits if h.chunk.id == primary.evidence_id
                           or speaks_for(h.chunk, primary.code, catalogue)), None)
            if naming is not None:
                return [naming] + [h for h in hits if h is not naming]
        elif any(h.chunk.id == primary.evidence_id for h in hits):
            return hits
        chunk = engine.router.evidence[primary.code]
        ev = Hit(chunk=chunk, score=hits[0].score if hits else 0.0)
        if lead:
            return [ev, *hits][:top_k]
        return [*hits[: top_k - 1], ev] if len(hits) >= top_k else [*hits, ev]
