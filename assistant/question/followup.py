"""Follow-up resolution: a follow-up ("And who handles that?", "What about cyber?", "Does it also deal with
space?") is rewritten into a standalone question from the previous turn's topic and directorate, so retrieval
and routing see what the user meant, and the rewritten question is shown back to the user."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..models import Turn
from .words import content_words

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
