"""Conversations: bounded session stores (memory or Redis) and follow-up resolution.

A follow-up ("And who handles that?", "What about cyber?", "Does it also deal with space?") is rewritten
into a standalone question from the previous turn's topic and directorate, so retrieval and routing
see what the user meant, and the rewritten question is shown back to the user.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass
from typing import Protocol

from cachetools import TTLCache

from .models import Turn
from .retrieve import content_words

SESSION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def new_session_id() -> str:
    return uuid.uuid4().hex


class SessionStore(Protocol):
    def history(self, session_id: str) -> list[Turn]: ...

    def append(self, session_id: str, turn: Turn) -> None: ...

    def clear(self, session_id: str) -> None: ...


class MemorySessionStore:
    """In-process sessions: at most ``max_sessions``, each kept ``ttl_s`` after its last turn,
    with its last ``max_turns`` turns."""

    def __init__(self, max_sessions: int = 10_000, ttl_s: float = 3600, max_turns: int = 10) -> None:
        if max_sessions < 1 or ttl_s <= 0 or max_turns < 1:
            raise ValueError(f"session bounds must be positive: max_sessions={max_sessions}, ttl_s={ttl_s}, "
                             f"max_turns={max_turns}")
        self._cache: TTLCache[str, list[Turn]] = TTLCache(maxsize=max_sessions, ttl=ttl_s)
        self._max_turns = max_turns
        self._lock = threading.Lock()

    def history(self, session_id: str) -> list[Turn]:
        with self._lock:
            return list(self._cache.get(session_id, ()))

    def append(self, session_id: str, turn: Turn) -> None:
        with self._lock:
            turns = list(self._cache.get(session_id, ()))
            turns.append(turn)
            self._cache[session_id] = turns[-self._max_turns:]  # re-setting refreshes the TTL

    def clear(self, session_id: str) -> None:
        with self._lock:
            self._cache.pop(session_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)


class RedisSessionStore:
    """Sessions in Redis (a list per session, trimmed and expiring), shared by several replicas."""

    def __init__(self, url: str, ttl_s: int = 3600, max_turns: int = 10, prefix: str = "dgm:session:") -> None:
        import redis

        self._r = redis.Redis.from_url(url, decode_responses=True, socket_timeout=2, socket_connect_timeout=2)
        self._ttl = int(ttl_s)
        self._max_turns = max_turns
        self._prefix = prefix

    def ping(self) -> bool:
        return bool(self._r.ping())

    def history(self, session_id: str) -> list[Turn]:
        return [Turn.from_dict(json.loads(x)) for x in self._r.lrange(self._prefix + session_id, 0, -1)]

    def append(self, session_id: str, turn: Turn) -> None:
        key = self._prefix + session_id
        pipe = self._r.pipeline()
        pipe.rpush(key, json.dumps(turn.to_dict()))
        pipe.ltrim(key, -self._max_turns, -1)
        pipe.expire(key, self._ttl)
        pipe.execute()

    def clear(self, session_id: str) -> None:
        self._r.delete(self._prefix + session_id)


def make_store(url: str | None, max_sessions: int, ttl_s: int, max_turns: int) -> SessionStore:
    if url:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"session URL must start with redis://, rediss:// or unix://, got {url!r}")
        return RedisSessionStore(url, ttl_s=ttl_s, max_turns=max_turns)
    return MemorySessionStore(max_sessions=max_sessions, ttl_s=ttl_s, max_turns=max_turns)


# ---------------------------------------------------------------------------------------------------------
# Follow-up resolution

_ELLIPSIS = re.compile(
    r"^\s*(?:and\s+)?(?:what|how)\s+about\s+(?P<x>.+?)\s*[?.!]*\s*$"
    r"|^\s*and\s+(?:for\s+|on\s+|in\s+)?(?P<y>.+?)\s*[?.!]*\s*$"
    r"|^\s*(?:same\s+(?:question\s+)?for|and\s+regarding|regarding|as\s+for)\s+(?P<z>.+?)\s*[?.!]*\s*$",
    re.IGNORECASE)
# Pronouns that stand for the directorate of the previous answer.
_DIR_PRONOUN = re.compile(
    r"\b(?:that|this|the\s+same)\s+(?:directorate|service|unit|department|team|office)\b|\b(?:it|its|they|their|them)\b",
    re.IGNORECASE)
# Pronouns that stand for the previous topic.
_TOPIC_PRONOUN = re.compile(r"\b(?:that|this|these|those|such\s+issues?|the\s+topic|that\s+topic|this\s+topic)\b",
                            re.IGNORECASE)
_QUESTION_START = re.compile(
    r"^\s*(?:who|what|which|how|where|when|why|does|do|did|is|are|was|can|could|should|would|will)\b",
    re.IGNORECASE)
_FOLLOWUP_START = re.compile(r"^\s*(?:and|also|so|but|then|what\s+about|how\s+about|and\s+what|ok|okay)\b",
                             re.IGNORECASE)
_ROUTE_FRAME = re.compile(
    r"\b(?:who|whom|which\s+(?:(?:dgm|fps|belgian|of\s+the)\s+)?(?:directorates?|services?|units?|departments?|"
    r"teams?|office)|qui|quelle\s+direction|"
    r"quel\s+service|welke\s+(?:directie|dienst)|wie|wer|welche\s+(?:direktion|abteilung|dienststelle))\b",
    re.IGNORECASE)
# The verbs of "who <verb> X" that ask which unit holds a topic.
REMIT_VERBS = (r"(?:deals\s+with|handles|is\s+responsible\s+for|manages|looks\s+after|covers|is\s+in\s+charge\s+of|"
               r"follows|coordinates)")
_TOPIC_FRAME = re.compile(
    r"^\s*(?:(?:can|could)\s+you\s+)?(?:please\s+)?(?:tell\s+me\s+(?:more\s+)?about|what\s+(?:is|are|does|do)\s+"
    r"(?:the\s+)?(?:dgm|fps|belgium)?\s*(?:do(?:ing)?\s+)?(?:about|on|regarding)?|explain|describe|"
    rf"who\s+{REMIT_VERBS}|which\s+(?:directorate|service|unit)\s+(?:deals\s+with|handles|is\s+responsible\s+for|"
    r"manages|covers|is\s+in\s+charge\s+of|follows|coordinates))\s+",
    re.IGNORECASE)


def asks_who(question: str) -> bool:
    """Does the question ask which unit handles something ("who ...", "which directorate ...")?"""
    return bool(_ROUTE_FRAME.search(question))


def topic_of(question: str) -> str:
    """The subject of a question: its frame ("Tell me about", "Who handles") and end punctuation removed."""
    t = _TOPIC_FRAME.sub("", question.strip(), count=1).strip()
    return re.sub(r"[?.!]+$", "", t).strip() or question.strip()


@dataclass(frozen=True)
class Resolved:
    """A question made standalone."""

    query: str  # what retrieval and routing see
    topic: str  # the subject, kept for the next turn
    prior: str | None  # the conversation's directorate, a hint for routing
    is_followup: bool


def resolve(question: str, history: list[Turn], directorate_names: dict[str, str]) -> Resolved:
    """Rewrite a follow-up into a standalone question using the previous turns.

    Args:
        question: the user's latest message.
        history: earlier turns of the session, oldest first.
        directorate_names: code -> "Directorate for ... (CODE)" for substituting pronouns.
    """
    q = " ".join(question.split())
    last = next((t for t in reversed(history) if not t.abstained), history[-1] if history else None)
    if last is None:
        return Resolved(q, topic_of(q), None, False)
    prev_dir = last.directorate
    content = content_words(q)
    m = _ELLIPSIS.match(q)
    subject = (m.group("x") or m.group("y") or m.group("z") or "") if m else ""
    if m and not _QUESTION_START.match(subject) and 0 < len(content_words(subject)) <= 6:
        # "What about cyber?" -> the previous question's frame with the new subject.
        new_topic = subject.strip()
        if _ROUTE_FRAME.search(last.rewritten):
            return Resolved(f"Which directorate deals with {new_topic}?", new_topic, None, True)
        return Resolved(f"What does the FPS do about {new_topic}?", new_topic, None, True)
    dir_pronoun = _DIR_PRONOUN.search(q)
    topic_pronoun = _TOPIC_PRONOUN.search(q)
    short = len(content) <= 3
    if not content and _ROUTE_FRAME.search(q) and not dir_pronoun and not topic_pronoun:
        # "Which directorate is responsible?" says nothing of its own: it asks about the previous topic.
        return Resolved(f"{q.rstrip('?.! ')} for {last.topic}?", last.topic, prev_dir, True)
    if not (dir_pronoun or topic_pronoun or (_FOLLOWUP_START.match(q) and short)):
        return Resolved(q, topic_of(q), None, False)
    rewritten = q
    if dir_pronoun and prev_dir and not _ROUTE_FRAME.search(q):
        # "Does it also deal with space?" -> it = the directorate of the previous answer.
        name = directorate_names.get(prev_dir, prev_dir)
        rewritten = _DIR_PRONOUN.sub(name, q, count=1)
        topic = topic_of(rewritten)
    elif topic_pronoun or dir_pronoun:
        # "And who handles that?" -> that = the previous topic.
        pat = _TOPIC_PRONOUN if topic_pronoun else _DIR_PRONOUN
        rewritten = pat.sub(last.topic, q, count=1)
        topic = last.topic
    else:
        rewritten = f"{q.rstrip('?.! ')} {last.topic}?"
        topic = last.topic
    rewritten = re.sub(r"^\s*(?:and|also|so|but|then|ok|okay)\s*,?\s+", "", rewritten, flags=re.IGNORECASE)
    rewritten = rewritten[:1].upper() + rewritten[1:]
    return Resolved(rewritten, topic, prev_dir, True)
