"""Typed values of the answering stage: hits, citations, routing, answers, conversation turns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING

from ingest.models import Chunk

if TYPE_CHECKING:
    from .question import Question
    from .retrieve import Retrieval
    from .scope import ScopeDecision


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the signals behind it."""

    chunk: Chunk
    score: float
    dense: float | None = None  # cosine similarity, when the dense retriever found it
    bm25: float | None = None  # raw BM25 score, when the keyword retriever found it
    dense_rank: int | None = None
    bm25_rank: int | None = None
    rerank: float | None = None


@dataclass(frozen=True, kw_only=True)
class Passage:
    """A retrieved passage as the answer shows it: where it comes from and how it ranked."""

    id: str
    title: str
    section: str | None
    source: str | None
    text: str
    score: float
    doc_id: str
    start: int
    end: int
    url: str | None = None  # the page's address, when it has one
    link: str | None = None  # that address opened at the passage (a text fragment, #:~:text=...)
    twins: tuple[tuple[str, str], ...] = ()  # the same page in other languages, (language, URL), from ingest
    rank: int = 0  # its place in the retrieved list, best first from 1 (0: not retrieved)


ROLES = ("answer", "remit")  # why a passage is cited


@dataclass(frozen=True, kw_only=True)
class Citation(Passage):
    """A passage the answer stands on, numbered as the answer refers to it ([1] is referred to first).

    ``role``: ``answer`` when the answer quotes it (or it scores as well as the passages quoted), ``remit``
    when it is the named unit's remit passage, cited for the sentence that names the unit.
    """

    n: int
    role: str = "answer"

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"citation role must be one of {', '.join(ROLES)}, got {self.role!r}")


@dataclass(frozen=True)
class DirectorateMatch:
    code: str
    name: str
    confidence: float
    evidence_id: str | None
    short_name: str = ""
    shared_with: tuple[str, ...] = ()
    localized_name: str = ""  # the name in the question's language (the English name when none is given)


@dataclass(frozen=True)
class RoutingSignals:
    """The evidence for each unit that routing weighed, per signal: unit code -> strength."""

    explicit: dict[str, float] = field(default_factory=dict)  # named by code, name or alias
    keywords: dict[str, float] = field(default_factory=dict)  # its listed topics found in the question
    themes: dict[str, float] = field(default_factory=dict)  # theme name -> words of a theme no unit holds
    labels: dict[str, float] = field(default_factory=dict)  # the top passages' labels, by rank
    similarity: dict[str, float] = field(default_factory=dict)  # softmax over remit-profile cosines
    descriptors: dict[str, float] = field(default_factory=dict)  # softmax over best name/keyword cosines


@dataclass(frozen=True)
class Routing:
    """The routing decision and why: a primary (maybe none), a secondary, and the signals."""

    primary: DirectorateMatch | None
    secondary: DirectorateMatch | None = None
    disagreement: bool = False  # the signals with evidence favour different units (it lowers the confidence)
    uncertain: bool = False  # the primary's confidence is below the router's caveat threshold: the answer says so
    no_fit: str | None = None  # why no DGM directorate fits, when that is the finding
    signals: RoutingSignals = field(default_factory=RoutingSignals)
    profile_max: float = 0.0  # best cosine between the question and a unit's remit profile
    descriptor_max: float = 0.0  # best cosine between the question and a unit's name, alias or keyword
    margin: float = 0.0  # score lead of the primary over the runner-up (what the confidence reads)


@dataclass(frozen=True)
class Turn:
    """One exchange kept in a conversation."""

    question: str
    rewritten: str
    topic: str
    directorate: str | None
    abstained: bool

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Turn:
        return cls(question=d["question"], rewritten=d["rewritten"], topic=d.get("topic", ""),
                   directorate=d.get("directorate"), abstained=bool(d.get("abstained", False)))


@dataclass(frozen=True)
class Answer:
    """What the assistant says: text with [n] markers, the numbered citations, the directorate, and the other
    passages retrieved (``related``)."""

    question: str
    rewritten_query: str
    answer: str
    abstained: bool
    citations: tuple[Citation, ...]  # the passages the answer stands on, in the order it refers to them
    directorate: DirectorateMatch | None
    secondary_directorate: DirectorateMatch | None
    session_id: str
    timings_ms: dict[str, float]
    in_scope: float = 1.0  # estimated probability that the corpus answers the question
    is_followup: bool = False
    suggestions: tuple[str, ...] = ()  # closest covered topics, offered when abstaining
    language: str | None = None  # the question's language (ISO 639-1), when detected
    notice: str | None = None  # e.g. the conversation could not be restored: answered on its own
    related: tuple[Passage, ...] = ()  # the other retrieved passages, best first: not sources of the answer
    trace: Trace | None = field(default=None, compare=False, repr=False)  # what each stage saw, on request

    def to_dict(self) -> dict:
        """The answer as plain data (without the trace)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name != "trace"}


def _plain(value):
    return asdict(value) if hasattr(value, "__dataclass_fields__") else (
        [_plain(v) for v in value] if isinstance(value, tuple) else value)


@dataclass(frozen=True)
class Trace:
    """What each stage of one answer saw: the question understood, the retrieval's candidates, the routing
    and the scope decision. The evaluation and the tuning read it instead of re-running the stages."""

    question: Question
    retrieval: Retrieval
    routing: Routing
    scope: ScopeDecision
