"""Request and response bodies of the HTTP API (pydantic), and their conversion from the answering stage."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ingest.models import Directorate

from ..models import Answer, Citation, DirectorateMatch, Passage
from ..sessions import SESSION_ID_RE, session_key


class _Request(BaseModel):
    # Unknown fields and silently coerced types ("5" for 5) are refused with a 422 naming the field.
    model_config = ConfigDict(extra="forbid", strict=True)


class AskRequest(_Request):
    """One question in a conversation."""

    question: str = Field(min_length=1, examples=["Which directorate deals with NATO?"],
                          description="The question in plain language; markup is treated as text. At most "
                          "`max_question_chars` characters (a service setting, 1,000 by default).")
    session_id: str | None = Field(None, pattern=SESSION_ID_RE.pattern,
                                   description="Continue this conversation: the session_id of the previous "
                                               "answer (or of the first); omit to start a new one")
    top_k: int | None = Field(None, ge=1, description="Passages to retrieve, cited or related (default and upper "
                                                      "bound: the service's `top_k` and `max_top_k` settings, 5 and "
                                                      "20 by default)")
    directorate: str | None = Field(None, min_length=1, max_length=16,
                                    description="Restrict to a directorate code, e.g. M4")
    document: str | None = Field(None, min_length=1, max_length=200, description="Restrict to a document id")

    @field_validator("question")
    @classmethod
    def _has_text(cls, v: str) -> str:
        # Control characters are dropped downstream; a question made only of them (or of spaces) is empty.
        if not any(ch.isprintable() and not ch.isspace() for ch in v):
            raise ValueError("must contain some text")
        return v


class PassageOut(BaseModel):
    """A retrieved passage: where it comes from, and how it ranked."""

    id: str = Field(description="Chunk id")
    title: str
    section: str | None
    source: str | None = Field(description="URL or file of the source document")
    text: str
    score: float
    doc_id: str
    start: int = Field(description="Character offset of the passage in its document")
    end: int
    url: str | None = Field(default=None, description="The page's address, when it has one")
    link: str | None = Field(default=None, description="The page opened at the passage (a #:~:text= fragment)")
    rank: int = Field(description="Its place in the retrieved list, best first from 1")
    twins: dict[str, str] = Field(default_factory=dict, description="The same page in other languages, "
                                  "language -> URL (its hreflang alternates, the page's own language included)")

    @classmethod
    def from_passage(cls, p: Passage) -> PassageOut:
        return cls(id=p.id, title=p.title, section=p.section, source=p.source, text=p.text, score=p.score,
                   doc_id=p.doc_id, start=p.start, end=p.end, url=p.url, link=p.link, rank=p.rank,
                   twins=dict(p.twins))


class CitationOut(PassageOut):
    """A passage the answer stands on."""

    n: int = Field(description="The [n] marker used in the answer text: citations are numbered in the order the "
                               "answer refers to them")
    role: Literal["answer", "remit"] = Field(
        description="answer: the answer quotes it; remit: the named directorate's remit passage, cited for the "
                    "sentence that names the directorate (it may be quoted too)")

    @classmethod
    def from_citation(cls, c: Citation) -> CitationOut:
        return cls(**PassageOut.from_passage(c).model_dump(), n=c.n, role=c.role)


class DirectorateOut(BaseModel):
    code: str
    name: str
    short_name: str = ""
    confidence: float
    evidence_id: str | None = Field(description="Chunk id of the passage stating the directorate's remit")
    shared_with: list[str] = Field(default_factory=list)

    @classmethod
    def from_match(cls, m: DirectorateMatch | None) -> DirectorateOut | None:
        if m is None:
            return None
        return cls(code=m.code, name=m.name, short_name=m.short_name, confidence=m.confidence,
                   evidence_id=m.evidence_id, shared_with=list(m.shared_with))


class AskResponse(BaseModel):
    """The answer with its numbered citations and the directorate that handles the topic."""

    answer: str = Field(description="Answer text with [n] citation markers")
    abstained: bool = Field(description="True when the pages do not cover the question")
    citations: list[CitationOut] = Field(description="The passages the answer stands on, in the order it refers "
                                                     "to them ([1] first)")
    related: list[PassageOut] = Field(default_factory=list,
                                      description="The other passages retrieved, best first: related reading, not "
                                                  "sources of the answer")
    directorate: DirectorateOut | None
    secondary_directorate: DirectorateOut | None
    rewritten_query: str = Field(description="The question as understood (follow-ups made standalone)")
    session_id: str = Field(description="Send it with the next question to continue the conversation (after a "
                                        "first question, a token that carries its context)")
    timings_ms: dict[str, float]
    suggestions: list[str] = Field(description="Covered topics close to the question, when abstaining")
    in_scope: float = Field(description="Estimated probability that the pages answer the question")
    is_followup: bool
    language: str | None = Field(default=None, description="The question's language (ISO 639-1), when detected")
    notice: str | None = Field(default=None, description="Something the user should know about this answer, e.g. "
                                                         "that their conversation could not be restored and the "
                                                         "question was answered on its own (a new session_id)")

    @classmethod
    def from_answer(cls, a: Answer) -> AskResponse:
        return cls(answer=a.answer, abstained=a.abstained,
                   citations=[CitationOut.from_citation(c) for c in a.citations],
                   related=[PassageOut.from_passage(p) for p in a.related],
                   directorate=DirectorateOut.from_match(a.directorate),
                   secondary_directorate=DirectorateOut.from_match(a.secondary_directorate),
                   rewritten_query=a.rewritten_query, session_id=a.session_id, timings_ms=dict(a.timings_ms),
                   suggestions=list(a.suggestions), in_scope=a.in_scope, is_followup=a.is_followup,
                   language=a.language, notice=a.notice)


class DirectorateInfo(BaseModel):
    """One unit of the DGM catalogue, with a question the widget offers as a starter."""

    code: str
    name: str
    short_name: str
    remit: str
    kind: str
    aliases: list[str]
    keywords: list[str]
    shared_with: list[str]
    starter: str

    @classmethod
    def from_directorate(cls, d: Directorate) -> DirectorateInfo:
        return cls(code=d.code, name=d.name, short_name=d.short_name, remit=d.remit, kind=d.kind,
                   aliases=list(d.aliases), keywords=list(d.keywords), shared_with=list(d.shared_with),
                   starter=starter_question(d))


def starter_question(d: Directorate) -> str:
    """A question the assistant answers well for this unit: who handles its first keyword, else its role."""
    if d.keywords:
        unit = "service" if d.kind == "service" else "directorate"
        return f"Which {unit} handles {d.keywords[0]}?"
    return f"What does the {d.short_name or d.name} do?"


class FeedbackRequest(_Request):
    """A thumbs up or down on one answer."""

    session_id: str = Field(pattern=f"^$|{SESSION_ID_RE.pattern}",
                            description="The answer's session_id ('' if none); its conversation id is stored")
    question: str = Field(max_length=4000)
    answer: str = Field(max_length=12000)
    rating: Literal["up", "down"]
    comment: str | None = Field(None, max_length=2000)

    @field_validator("session_id")
    @classmethod
    def _key(cls, v: str) -> str:
        return session_key(v)  # a first-turn token's context is not feedback


class WidgetConfig(BaseModel):
    """The service's limits a client needs before it asks (the widget reads them instead of repeating them)."""

    max_question_chars: int = Field(description="Longest question accepted; a longer one is refused with 422")
    top_k: int = Field(description="Passages cited per answer when a request gives no top_k")
    max_top_k: int = Field(description="Largest top_k a request may ask for")


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"


class IndexInfo(BaseModel):
    path: str = Field(description="The name of the versioned index folder in use (never its location on disk)")
    chunks: int
    created_at: str
    model: str
    index_type: str
    corpus_fingerprint: str


class ReadyResponse(BaseModel):
    status: Literal["ready", "degraded"] = Field(
        "ready", description="degraded: answering, but a dependency is down (see `degraded`)")
    index: IndexInfo
    degraded: list[str] = Field(default_factory=list,
                                description="What is down and what the service does meanwhile")


class ErrorResponse(BaseModel):
    """Any non-validation error: a message naming what is wrong."""

    detail: str
