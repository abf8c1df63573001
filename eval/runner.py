"""Drive one or more assistant configurations over the Q&A set and score every answer."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field

from ingest.errors import DGMError

from .dataset import KINDS, LANGUAGES, QAItem
from .metrics import (
    RANKING_METRICS,
    Calibration,
    ConfusionMatrix,
    calibration,
    citation_scores,
    confusion_matrix,
    directorate_correct,
    is_relevant,
    mean,
    percentile,
    ranking_scores,
)
from .qrels import Quote, Span, covers, grade

logger = logging.getLogger(__name__)

HIT_K_FOR_FAILURE = 3  # an in-scope item "fails" retrieval when no expected phrase is in its top 3 passages


# -- What an asker returns: structural types, so the in-process Answer and the HTTP reply both fit. --

class PassageLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def doc_id(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def rank(self) -> int: ...


class CitationLike(PassageLike, Protocol):
    @property
    def role(self) -> str: ...


class DirectorateLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def confidence(self) -> float: ...


class AnswerLike(Protocol):
    @property
    def abstained(self) -> bool: ...
    @property
    def citations(self) -> Sequence[CitationLike]: ...
    @property
    def related(self) -> Sequence[PassageLike]: ...
    @property
    def directorate(self) -> DirectorateLike | None: ...
    @property
    def secondary_directorate(self) -> DirectorateLike | None: ...
    @property
    def session_id(self) -> str: ...
    @property
    def rewritten_query(self) -> str: ...


class Asker(Protocol):
    """Anything that answers like `assistant.pipeline.Assistant.ask`."""

    def ask(self, question: str, session_id: str | None = None, top_k: int = 5,
            directorate: str | None = None) -> AnswerLike: ...


# -- The HTTP asker --

class RemoteAskError(DGMError):
    """The assistant's HTTP API could not be reached or gave an unusable reply."""


class RemotePassage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    title: str = ""
    section: str | None = None
    source: str | None = None
    text: str
    score: float
    doc_id: str = ""
    start: int = 0
    end: int = 0
    rank: int = 0


class RemoteCitation(RemotePassage):
    n: int
    role: str = "answer"


class RemoteDirectorate(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    code: str
    name: str = ""
    confidence: float
    evidence_id: str | None = None


class RemoteAnswer(BaseModel):
    """The JSON body of ``POST /api/ask``, with the fields the evaluation reads."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    answer: str
    abstained: bool
    citations: tuple[RemoteCitation, ...] = ()
    related: tuple[RemotePassage, ...] = ()
    directorate: RemoteDirectorate | None = None
    secondary_directorate: RemoteDirectorate | None = None
    rewritten_query: str = ""
    session_id: str
    timings_ms: dict[str, float] = Field(default_factory=dict)


class HttpAsker:
    """Ask a running assistant over HTTP (``POST {url}/api/ask``).

    Args:
        url: base URL of the service, e.g. ``http://127.0.0.1:8000``.
        timeout: seconds per request.
        transport: optional httpx transport (tests pass an ``httpx.MockTransport``).
        client: optional ready client, e.g. FastAPI's ``TestClient(app)`` with url ``http://testserver``;
            it is used as given and not closed by `close`.
    """

    def __init__(self, url: str, timeout: float = 30.0, transport: httpx.BaseTransport | None = None,
                 client: httpx.Client | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://. Currently, url is {url!r}")
        if timeout <= 0:
            raise ValueError(f"timeout must be greater than 0. Currently, timeout is {timeout}")
        self.url = url.rstrip("/")
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=timeout, transport=transport)

    def ask(self, question: str, session_id: str | None = None, top_k: int = 5,
            directorate: str | None = None) -> RemoteAnswer:
        body: dict[str, Any] = {"question": question, "session_id": session_id, "top_k": top_k}
        if directorate is not None:
            body["directorate"] = directorate
        try:
            response = self._client.post(f"{self.url}/api/ask", json=body)
        except httpx.HTTPError as exc:
            raise RemoteAskError(f"POST {self.url}/api/ask failed: {exc}; is the service running?") from exc
        if response.status_code != 200:
            raise RemoteAskError(f"POST {self.url}/api/ask returned {response.status_code}: "
                                 f"{response.text[:200]}")
        try:
            return RemoteAnswer.model_validate_json(response.content)
        except ValidationError as exc:
            raise RemoteAskError(f"POST {self.url}/api/ask gave an unexpected body: {exc}") from exc

    def codes(self) -> tuple[str, ...]:
        """The service's directorate codes (``GET /api/directorates``)."""
        try:
            response = self._client.get(f"{self.url}/api/directorates")
            response.raise_for_status()
            return tuple(d["code"] for d in response.json())
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise RemoteAskError(f"cannot read the directorates of {self.url}: {exc}") from exc

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> HttpAsker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- The report --

class MetricInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str
    higher_is_better: bool
    is_rate: bool
    label: str
    decimals: int | None = None  # shown with; default 3 for a rate, 1 otherwise


# Every figure a threshold may name, in display order.
METRICS: dict[str, MetricInfo] = {
    "hit@1": MetricInfo(field="hit_1", higher_is_better=True, is_rate=True, label="hit@1"),
    "hit@3": MetricInfo(field="hit_3", higher_is_better=True, is_rate=True, label="hit@3"),
    "hit@5": MetricInfo(field="hit_5", higher_is_better=True, is_rate=True, label="hit@5"),
    "mrr@10": MetricInfo(field="mrr_10", higher_is_better=True, is_rate=True, label="MRR@10"),
    "ndcg@10": MetricInfo(field="ndcg_10", higher_is_better=True, is_rate=True, label="nDCG@10"),
    "citation_precision": MetricInfo(field="citation_precision", higher_is_better=True, is_rate=True,
                                     label="citation precision"),
    "citation_recall": MetricInfo(field="citation_recall", higher_is_better=True, is_rate=True,
                                  label="citation recall"),
    "citations_per_answer": MetricInfo(field="citations_per_answer", higher_is_better=False, is_rate=False,
                                       label="citations per answer", decimals=2),
    "directorate_accuracy": MetricInfo(field="directorate_accuracy", higher_is_better=True, is_rate=True,
                                       label="directorate accuracy"),
    "oos_abstained": MetricInfo(field="oos_abstained", higher_is_better=True, is_rate=True,
                                label="out-of-scope abstained"),
    "in_scope_abstained": MetricInfo(field="in_scope_abstained", higher_is_better=False, is_rate=True,
                                     label="in-scope abstained"),
    "followup_success": MetricInfo(field="followup_success", higher_is_better=True, is_rate=True,
                                   label="follow-up success"),
    "latency_p50_ms": MetricInfo(field="latency_p50_ms", higher_is_better=False, is_rate=False,
                                 label="latency p50 (ms)"),
    "latency_p95_ms": MetricInfo(field="latency_p95_ms", higher_is_better=False, is_rate=False,
                                 label="latency p95 (ms)"),
}


class MetricSet(BaseModel):
    """The figures over one group of items; None = not measured (no item in the group qualifies)."""

    model_config = ConfigDict(frozen=True, validate_by_name=True, validate_by_alias=True,
                              serialize_by_alias=True)

    n: int
    n_retrieval: int  # items with expected phrases (ranking metrics)
    n_routed: int  # items with accepted directorates (routing accuracy)
    n_labelled: int = 0  # items with citation labels (citation recall; precision: those of them answered)
    n_errors: int
    hit_1: float | None = Field(None, alias="hit@1")
    hit_3: float | None = Field(None, alias="hit@3")
    hit_5: float | None = Field(None, alias="hit@5")
    mrr_10: float | None = Field(None, alias="mrr@10")
    ndcg_10: float | None = Field(None, alias="ndcg@10")
    citation_precision: float | None = None
    citation_recall: float | None = None
    citations_per_answer: float | None = None
    directorate_accuracy: float | None = None
    oos_abstained: float | None = None
    in_scope_abstained: float | None = None
    followup_success: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None

    def value(self, metric: str) -> float | None:
        """A figure by its public name (a key of `METRICS`)."""
        return getattr(self, METRICS[metric].field)


class CitationRecord(BaseModel):
    """A passage the answer showed: a citation, or (in ``ItemResult.related``) one of the others retrieved."""

    model_config = ConfigDict(frozen=True)

    id: str
    text: str
    score: float
    relevant: bool  # holds an expected phrase (what the ranking figures read)
    rank: int = 0  # its place in the retrieved list, from 1
    role: str | None = None  # a citation's: answer | remit
    grade: int | None = None  # the citation labels' grade of what it covers (0: none); None: item unlabelled


class ItemResult(BaseModel):
    """What one configuration did with one item, and how it scored."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: str
    language: str = "en"
    question: str  # the scored (last) turn
    turns: list[str]
    phrases: list[str]
    directorates: list[str]
    citations: list[CitationRecord]  # as shown, in the order the answer refers to them
    related: list[CitationRecord] = []  # the other retrieved passages, best first
    abstained: bool
    directorate: str | None
    confidence: float | None
    secondary_directorate: str | None
    rewritten_query: str | None
    session_id: str | None
    latency_ms: float | None  # wall clock of the scored turn
    error: str | None
    scores: dict[str, float]  # ranking metrics; empty when the item has no expected phrases
    citation_precision: float | None = None  # None: the item is not labelled, or no citation was shown
    citation_recall: float | None = None  # None: the item is not labelled
    directorate_correct: bool | None  # None when routing is not scored
    followup_success: bool | None
    failures: list[str]  # why the item counts as failed; empty when it passed

    @computed_field  # type: ignore[prop-decorator]
    @property
    def relevant(self) -> list[int]:
        """Retrieval ranks (from 1) of the shown passages, cited or related, that contain an expected phrase."""
        return sorted(c.rank for c in [*self.citations, *self.related] if c.relevant)


class ConfigReport(BaseModel):
    """One configuration's results: overall and per kind (English items), per language (all items), routing
    calibration and confusion (English items)."""

    model_config = ConfigDict(frozen=True)

    name: str
    overall: MetricSet
    by_kind: dict[str, MetricSet]
    by_language: dict[str, MetricSet] = {}  # every kind of question in each language
    calibration: Calibration
    confusion: ConfusionMatrix
    items: list[ItemResult]

    def failed(self) -> list[ItemResult]:
        return [r for r in self.items if r.failures]


class EvalReport(BaseModel):
    """The whole run: every configuration on the same items."""

    model_config = ConfigDict(frozen=True)

    created: str
    qa: str | None = None
    qrels: str | None = None  # the citation labels' file, when citations were scored
    top_k: int
    n_items: int
    items_by_kind: dict[str, int]
    items_by_language: dict[str, int] = {}
    configs: list[ConfigReport]

    def config(self, name: str) -> ConfigReport:
        for c in self.configs:
            if c.name == name:
                return c
        raise KeyError(f"no configuration {name!r}; have {', '.join(c.name for c in self.configs)}")


# -- Running --

@dataclass(frozen=True)
class _Reply:
    answer: AnswerLike | None
    latency_ms: float | None
    error: str | None


def _ask_item(asker: Asker, item: QAItem, top_k: int) -> _Reply:
    """Play the item's turns in one new session; time and keep only the last answer."""
    session_id: str | None = None
    try:
        turns = item.all_turns
        for turn in turns[:-1]:
            earlier = asker.ask(turn, session_id=session_id, top_k=top_k)
            session_id = session_id or earlier.session_id
        start = time.perf_counter()
        answer = asker.ask(turns[-1], session_id=session_id, top_k=top_k)
        latency = (time.perf_counter() - start) * 1000.0
    except Exception as exc:  # noqa: BLE001 - one failing call must not end the run; it is recorded
        logger.warning("item %s: %s: %s", item.id, type(exc).__name__, exc)
        return _Reply(None, None, f"{type(exc).__name__}: {exc}")
    return _Reply(answer, latency, None)


def ranked_passages(answer: AnswerLike | None) -> list[PassageLike]:
    """Every passage an answer shows, cited or related, in retrieval order (what the ranking figures score,
    as they scored the citations when every retrieved passage was one). Passages without a rank keep the
    order given, after the ranked ones."""
    if answer is None:
        return []
    shown: list[PassageLike] = [*answer.citations, *answer.related]
    order = sorted(range(len(shown)), key=lambda i: (shown[i].rank <= 0, shown[i].rank, i))
    return [shown[i] for i in order]


def _span(c: PassageLike) -> Span:
    return Span(c.doc_id, c.start, c.end)


def _score_item(item: QAItem, reply: _Reply, scores: dict[str, float], quotes: tuple[Quote, ...] | None = None,
                cited: Mapping[str, float] | None = None) -> ItemResult:
    a = reply.answer

    def record(c: PassageLike, role: str | None) -> CitationRecord:
        return CitationRecord(id=c.id, text=c.text, score=float(c.score), relevant=is_relevant(c.text, item.phrases),
                              rank=c.rank, role=role, grade=None if quotes is None else grade(_span(c), quotes))

    citations = [record(c, c.role) for c in (a.citations if a is not None else ())]
    related = [record(c, None) for c in (a.related if a is not None else ())]
    primary = a.directorate if a is not None else None
    secondary = a.secondary_directorate if a is not None else None
    abstained = bool(a.abstained) if a is not None else False
    predicted = primary.code if primary is not None and not abstained else None
    correct = directorate_correct(predicted, item.directorates)

    failures: list[str] = []
    if reply.error:
        failures.append(f"call failed: {reply.error}")
    if item.kind == "out_of_scope" and not abstained:
        failures.append("answered an out-of-scope question")
    if item.kind != "out_of_scope" and abstained:
        failures.append("abstained on an in-scope question")
    retrieval_ok = True
    if item.phrases:
        retrieval_ok = scores.get(f"hit@{HIT_K_FOR_FAILURE}", 0.0) > 0
        if not retrieval_ok:
            failures.append(f"no expected phrase in the top {HIT_K_FOR_FAILURE} retrieved passages")
    if correct is False:
        failures.append(f"directorate {predicted or 'none'} not in {item.directorates}")
    followup = (retrieval_ok and correct is not False) if item.kind == "followup" else None

    return ItemResult(
        id=item.id, kind=item.kind, language=item.language, question=item.scored_question, turns=item.all_turns,
        phrases=list(item.phrases), directorates=list(item.directorates), citations=citations, related=related,
        abstained=abstained, directorate=primary.code if primary is not None else None,
        confidence=float(primary.confidence) if primary is not None else None,
        secondary_directorate=secondary.code if secondary is not None else None,
        rewritten_query=a.rewritten_query if a is not None else None,
        session_id=a.session_id if a is not None else None,
        latency_ms=reply.latency_ms, error=reply.error, scores=scores,
        citation_precision=(cited or {}).get("precision"), citation_recall=(cited or {}).get("recall"),
        directorate_correct=correct, followup_success=followup, failures=failures,
    )


def summarize(results: Sequence[ItemResult]) -> MetricSet:
    """Aggregate item results into figures; each figure averages only the items it applies to."""
    ranked = [r for r in results if r.phrases]
    routed = [r for r in results if r.directorate_correct is not None]
    latencies = [r.latency_ms for r in results if r.latency_ms is not None]
    values: dict[str, float | None] = {name: mean(r.scores[name] for r in ranked) for name in RANKING_METRICS}
    answered = [r for r in results if r.error is None and not r.abstained]
    values.update(
        citation_precision=mean(r.citation_precision for r in results if r.citation_precision is not None),
        citation_recall=mean(r.citation_recall for r in results if r.citation_recall is not None),
        citations_per_answer=mean(len(r.citations) for r in answered),
        directorate_accuracy=mean(bool(r.directorate_correct) for r in routed),
        oos_abstained=mean(r.abstained for r in results if r.kind == "out_of_scope"),
        in_scope_abstained=mean(r.abstained for r in results if r.kind != "out_of_scope"),
        followup_success=mean(bool(r.followup_success) for r in results if r.kind == "followup"),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
    )
    return MetricSet.model_validate({"n": len(results), "n_retrieval": len(ranked), "n_routed": len(routed),
                                     "n_labelled": sum(r.citation_recall is not None for r in results),
                                     "n_errors": sum(r.error is not None for r in results), **values})


def _english(results: Sequence[ItemResult]) -> list[ItemResult]:
    return [r for r in results if r.language == "en"]


def _expected_vs_predicted(r: ItemResult) -> tuple[str, str | None]:
    """The confusion-matrix cell of a routed item: a correct answer lands on the diagonal even when the
    item accepts several codes; a wrong one is charged to the first accepted code."""
    predicted = None if r.abstained else r.directorate
    return (predicted if r.directorate_correct and predicted else r.directorates[0]), predicted


def score_config(name: str, items: Sequence[QAItem], replies: Sequence[_Reply],
                 qrels: Mapping[str, tuple[Quote, ...]] | None = None) -> ConfigReport:
    """Score one configuration's replies (same order as `items`); ``qrels``: the located citation labels
    (`eval.qrels.load_qrels`), by item id, for citation precision and recall."""
    relevance = {
        item.id: [is_relevant(c.text, item.phrases) for c in ranked_passages(reply.answer)]
        for item, reply in zip(items, replies, strict=True) if item.phrases
    }
    per_query = ranking_scores(relevance)
    labels = qrels or {}
    shown: dict[str, list[tuple[str, int]]] = {}
    covered: dict[str, list[str]] = {}
    for item, reply in zip(items, replies, strict=True):
        if item.id in labels and reply.answer is not None and not reply.answer.abstained:
            quotes = labels[item.id]
            cits = reply.answer.citations
            shown[item.id] = [(c.id, grade(_span(c), quotes)) for c in cits]
            covered[item.id] = [q.key for c in cits for q in quotes if covers(_span(c), q)]
    asked = {item.id for item in items}
    per_label = citation_scores(shown, {i: [(q.key, q.grade) for q in quotes] for i, quotes in labels.items()
                                        if i in asked}, covered)
    results = [_score_item(item, reply, per_query.get(item.id, {}), labels.get(item.id),
                           per_label.get(item.id)) for item, reply in zip(items, replies, strict=True)]
    english = _english(results)
    routed = [r for r in english if r.directorate_correct is not None]
    # Calibration needs a stated confidence: items routed to no directorate are left out of it
    # (they still count as wrong in the accuracy and appear as "none" in the confusion matrix).
    stated = [r for r in routed if r.confidence is not None and not r.abstained]
    present = [k for k in KINDS if any(r.kind == k for r in english)]
    return ConfigReport(
        name=name,
        overall=summarize(english),
        by_kind={k: summarize([r for r in english if r.kind == k]) for k in present},
        by_language={lang: summarize([r for r in results if r.language == lang])
                     for lang in LANGUAGES if any(r.language == lang for r in results)},
        calibration=calibration([r.confidence or 0.0 for r in stated],
                                [bool(r.directorate_correct) for r in stated]),
        # Labels in the order the Q&A first names them (the eval knows no catalogue of its own).
        confusion=confusion_matrix([_expected_vs_predicted(r) for r in routed],
                                   list(dict.fromkeys(c for r in routed for c in r.directorates))),
        items=results,
    )


def known_codes(asker: Asker) -> tuple[str, ...] | None:
    """The directorate codes the asker's catalogue holds (in process, or over HTTP); None if it cannot say."""
    catalogue = getattr(asker, "catalogue", None)
    if catalogue is not None:
        return tuple(catalogue.codes)
    codes = getattr(asker, "codes", None)
    if not callable(codes):
        return None
    try:
        return tuple(codes())
    except RemoteAskError:
        return None  # an unreachable service: every question will say so


def run_eval(askers: Mapping[str, Asker], items: Sequence[QAItem], top_k: int = 10,
             progress: bool = True, qrels: Mapping[str, tuple[Quote, ...]] | None = None) -> EvalReport:
    """Ask every configuration every item and score the answers.

    Args:
        askers: configuration name -> asker, in display order; the last one is "the full assistant".
        items: the Q&A items (see `eval.dataset.load_qa`).
        top_k: citations asked for per answer; 10 makes MRR@10 and nDCG@10 meaningful.
        progress: show a rich progress bar on the terminal.
        qrels: the citation labels by item id (`eval.qrels.load_qrels`): citation precision and recall are
            measured on the items they label, and not at all without them.

    Returns:
        The typed, JSON-serialisable report (overall and per kind: the English items; per language: all).
    """
    if not askers:
        raise ValueError("askers must name at least one configuration. Currently, askers is empty")
    if not items:
        raise ValueError("items must hold at least one Q&A item. Currently, items is empty")
    if top_k < 1:
        raise ValueError(f"top_k must be greater than 0. Currently, top_k is {top_k}")
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    configs: list[ConfigReport] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not progress, transient=False) as bar:
        for name, asker in askers.items():
            # Configurations may share one model: each starts with a cold query cache, so latencies compare.
            clear = getattr(asker, "clear_caches", None)
            if callable(clear):
                clear()
            task = bar.add_task(f"eval [bold]{name}[/]", total=len(items))
            replies: list[_Reply] = []
            for item in items:
                replies.append(_ask_item(asker, item, top_k))
                bar.advance(task)
            configs.append(score_config(name, items, replies, qrels))
    counts = {k: sum(i.kind == k for i in items) for k in KINDS}
    languages = {lang: sum(i.language == lang for i in items) for lang in LANGUAGES}
    return EvalReport(created=datetime.now(UTC).isoformat(timespec="seconds"), top_k=top_k,
                      n_items=len(items), items_by_kind={k: v for k, v in counts.items() if v},
                      items_by_language={k: v for k, v in languages.items() if v}, configs=configs)
