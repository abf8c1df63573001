"""Follow-up resolution: a follow-up ("And who handles that?", "What about cyber?", "Does it also deal with
space?", "Et la cybersécurité ?", "Und was macht sie sonst?") is rewritten into a standalone question from the
previous turn's topic and directorate, so retrieval and routing see what the user meant, and the rewritten
question is shown back to the user.

The words are data: each language's ``followup`` section of ``lexicon/{lang}.yaml`` (openers, pronouns,
question starts, frames, the rewrite templates); the question's language picks the section, and the patterns
are built from it once."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..models import Turn
from .words import (
    LANGUAGES,
    Joins,
    content_words,
    fill,
    joins,
    lexicon_path,
    lexicon_section,
    phrase_regex,
    phrases_regex,
)

_REWRITES = ("unit", "policy", "for_topic", "add_topic")


@dataclass(frozen=True)
class FollowupWords:
    """One language's follow-up patterns, built from its lexicon (`followup_words`)."""

    language: str
    ellipsis: re.Pattern[str]  # "<opener> X?": group "s" is the subject
    clause: re.Pattern[str] | None  # a word that makes the rest a clause, not a subject
    max_words: int
    dir_pronoun: re.Pattern[str]
    topic_pronoun: re.Pattern[str]  # one group per phrase, "t0", "t1", ...
    topic_replacements: tuple[str, ...]  # what each phrase becomes, "{topic}" standing for the previous topic
    question_start: re.Pattern[str]
    followup_start: re.Pattern[str] | None
    fillers: re.Pattern[str] | None
    unit_question: str  # the regex of the words that ask which unit handles something
    topic_frame: re.Pattern[str]
    topic_frame_end: re.Pattern[str] | None
    topic_starts: tuple[tuple[re.Pattern[str], str], ...]
    rewrite: Mapping[str, str]
    joins: Joins

    def topic_replacement(self, m: re.Match[str]) -> str:
        return self.topic_replacements[int((m.lastgroup or "t0")[1:])]


def _strings(path: Any, key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{path}: followup.{key} must be a list of phrases, got {value!r}")
    return [v.strip() for v in value]


@functools.cache
def followup_words(language: str) -> FollowupWords:
    """The follow-up patterns of ``language`` (English for a language without a lexicon), built once."""
    lang = language if language in LANGUAGES else "en"
    path = lexicon_path(lang)
    data = lexicon_section(lang, "followup")
    lists = {k: _strings(path, k, data.get(k, [])) for k in (
        "ellipsis", "clause_words", "directorate_pronouns", "question_starts", "followup_starts", "fillers",
        "unit_questions", "remit_verbs", "topic_frames", "topic_frame_ends")}
    for k in ("ellipsis", "directorate_pronouns", "question_starts", "unit_questions", "topic_frames",
              *(("remit_verbs",) if lang == "en" else ())):
        if not lists[k]:
            raise ValueError(f"{path}: followup.{k} must not be empty")
    pronouns: list[tuple[str, str]] = []
    for entry in data.get("topic_pronouns") or []:
        if isinstance(entry, str):
            pronouns.append((entry, "{topic}"))
        elif isinstance(entry, dict) and len(entry) == 1 and all(isinstance(x, str) for x in (*entry, *entry.values())):
            pronouns.extend(entry.items())
        else:
            raise ValueError(f"{path}: followup.topic_pronouns: expected a phrase or {{phrase: replacement}}, "
                             f"got {entry!r}")
    if not pronouns:
        raise ValueError(f"{path}: followup.topic_pronouns must not be empty")
    rewrite = data.get("rewrite") or {}
    missing = [k for k in _REWRITES if not isinstance(rewrite.get(k), str)]
    if missing:
        raise ValueError(f"{path}: followup.rewrite lacks {', '.join(missing)}")
    starts = []
    for row in data.get("topic_starts") or []:
        if not (isinstance(row, list) and len(row) == 2 and all(isinstance(x, str) for x in row) and row[0]):
            raise ValueError(f"{path}: followup.topic_starts must hold [words, what they become] pairs, got {row!r}")
        starts.append((re.compile(rf"{re.escape(row[0])}(?:\s+|(?<='))", re.IGNORECASE), row[1]))
    prefix = str(data.get("topic_frame_prefix") or "")

    def alternation(key: str, open_end: bool = False) -> str:
        return phrases_regex(lists[key], lists, open_end=open_end)

    def optional(pattern: str, key: str) -> re.Pattern[str] | None:
        return re.compile(pattern.format(alternation(key)), re.IGNORECASE) if lists[key] else None

    topic_pronoun = "|".join(f"(?P<t{i}>{phrase_regex(p, lists)})" for i, (p, _) in enumerate(pronouns))
    return FollowupWords(
        language=lang,
        ellipsis=re.compile(rf"^\s*{alternation('ellipsis', open_end=True)}(?P<s>.+?)\s*[?.!]*\s*$", re.IGNORECASE),
        clause=optional(r"\b{}\b", "clause_words"),
        max_words=int(data.get("ellipsis_max_words", 6)),
        dir_pronoun=re.compile(rf"\b{alternation('directorate_pronouns')}\b", re.IGNORECASE),
        topic_pronoun=re.compile(rf"\b(?:{topic_pronoun})\b", re.IGNORECASE),
        topic_replacements=tuple(r for _, r in pronouns),
        question_start=re.compile(rf"^\s*{alternation('question_starts')}\b", re.IGNORECASE),
        followup_start=optional(r"^\s*{}\b", "followup_starts"),
        fillers=optional(r"^\s*{}\s*,?\s+", "fillers"),
        unit_question=alternation("unit_questions"),
        topic_frame=re.compile(rf"^\s*{phrase_regex(prefix, open_end=True) if prefix else ''}"
                               rf"{alternation('topic_frames', open_end=True)}", re.IGNORECASE),
        topic_frame_end=optional(r"\s+{}\s*$", "topic_frame_ends"),
        topic_starts=tuple(starts),
        rewrite={k: rewrite[k] for k in _REWRITES},
        joins=joins(lang),
    )


@functools.cache
def _unit_question(language: str | None) -> re.Pattern[str]:
    """The words that ask which unit handles something: in the question's language and in English (whose words
    a question in another language may borrow), or in any language when the language is not known. Not in
    every language always: Dutch "wie" (who) is German "wie" (how)."""
    langs = tuple(dict.fromkeys((language, "en"))) if language in LANGUAGES else LANGUAGES
    return re.compile(rf"\b(?:{'|'.join(followup_words(lang).unit_question for lang in langs)})\b", re.IGNORECASE)



def asks_who(question: str, language: str | None = None) -> bool:
    """Does the question ask which unit handles something ("who ...", "which directorate ...")?

    ``language``: the question's (ISO 639-1); None looks for the words of every language."""
    return bool(_unit_question(language).search(question))


def _normal_topic(topic: str, words: FollowupWords) -> str:
    """A subject's first words as a topic says them (French "des droits" -> "les droits")."""
    for pattern, replacement in words.topic_starts:
        m = pattern.match(topic)
        if m:
            sep = "" if not replacement or replacement.endswith("'") else " "
            return f"{replacement}{sep}{topic[m.end():]}"
    return topic


def _without_fillers(text: str, words: FollowupWords) -> str:
    """``text`` without the words that only carried the conversation on ("And ...", "Und ...")."""
    return words.fillers.sub("", text, count=1) if words.fillers is not None else text


def _pronoun(pattern: re.Pattern[str], text: str) -> tuple[re.Match[str] | None, bool]:
    """The first pronoun of ``pattern`` in ``text`` that stands for something said before, and whether one
    follows a hyphen: French "consacre-t-elle", "faut-il" invert the sentence's own subject, no word to replace."""
    found, inverted = None, False
    for m in pattern.finditer(text):
        if text[m.start() - 1:m.start()] == "-":
            inverted = True
        elif found is None:
            found = m
    return found, inverted


def topic_of(question: str, language: str | None = "en") -> str:
    """The subject of a question: its frame ("Tell me about", "Who handles") and end punctuation removed."""
    words = followup_words(language or "en")
    t = words.topic_frame.sub("", question.strip(), count=1).strip()
    t = re.sub(r"[?.!]+$", "", t).strip()
    if words.topic_frame_end is not None:
        t = words.topic_frame_end.sub("", t).strip()
    return _normal_topic(t, words) or question.strip()


@dataclass(frozen=True)
class Resolved:
    """A question made standalone."""

    query: str  # what retrieval and routing see
    topic: str  # the subject, kept for the next turn
    prior: str | None  # the conversation's directorate, a hint for routing
    is_followup: bool


def resolve(question: str, history: list[Turn], directorate_names: Mapping[str, str],
            language: str | None = "en", about_unit: Callable[[Turn], bool] | None = None) -> Resolved:
    """Rewrite a follow-up into a standalone question using the previous turns.

    Args:
        question: the user's latest message.
        history: earlier turns of the session, oldest first.
        directorate_names: code -> how a sentence in ``language`` names the unit ("the Directorate for ...
            (CODE)"), for substituting pronouns.
        language: the question's language (ISO 639-1): its lexicon's words are the ones looked for, and its
            rewrite templates make the standalone question. English when it has no lexicon.
        about_unit: whether a turn was about a unit (asked which one, or named one); a pronoun ("it", "elle")
            stands for the previous answer's unit only after such a turn, else for the previous topic ("Tell
            me about the Ottawa Convention." "When did Belgium ratify it?"), added to the question when the
            topic is the whole previous question. None: after any turn.
    """
    w = followup_words(language or "en")
    q = " ".join(question.split())
    last = next((t for t in reversed(history) if not t.abstained), history[-1] if history else None)
    if last is None:
        return Resolved(q, topic_of(q, w.language), None, False)
    prev_dir = last.directorate
    content = content_words(q)
    m = w.ellipsis.match(q)
    subject = m.group("s") if m else ""
    if m and not w.question_start.match(subject) and 0 < len(content_words(subject)) <= w.max_words \
            and not (w.clause is not None and w.clause.search(subject)):
        # "What about cyber?" -> the previous question's frame with the new subject.
        new_topic = _normal_topic(subject.strip(), w)
        frame = "unit" if asks_who(last.rewritten) else "policy"  # (the previous turn's language is not kept)
        return Resolved(fill(w.rewrite[frame], w.joins, topic=new_topic), new_topic, None, True)
    dir_pronoun, dir_inverted = _pronoun(w.dir_pronoun, q)
    topic_pronoun, topic_inverted = _pronoun(w.topic_pronoun, q)
    short = len(content) <= 3
    if not content and asks_who(q, w.language) and not dir_pronoun and not topic_pronoun:
        # "Which directorate is responsible?" says nothing of its own: it asks about the previous topic.
        return Resolved(fill(w.rewrite["for_topic"], w.joins, question=q.rstrip("?.! "), topic=last.topic),
                        last.topic, prev_dir, True)
    # "Et ... demande-t-elle ... ?": an inverted subject in a message that carries the conversation on stands for
    # someone named before, and the previous topic is added ("Y a-t-il ...", "Faut-il ..." alone ask anew).
    opener = w.followup_start is not None and w.followup_start.match(q) is not None
    carried_on = opener or (w.fillers is not None and w.fillers.match(q) is not None)
    inverted = carried_on and (dir_inverted or topic_inverted)
    if not (dir_pronoun or topic_pronoun or inverted or (opener and short)):
        return Resolved(q, topic_of(q, w.language), None, False)
    if dir_pronoun and prev_dir and not asks_who(q, w.language) and (about_unit is None or about_unit(last)):
        # "Does it also deal with space?" -> it = the directorate of the previous answer.
        name = directorate_names.get(prev_dir, prev_dir)
        rewritten = q[:dir_pronoun.start()] + name + q[dir_pronoun.end():]
        topic = topic_of(rewritten, w.language)
    elif topic_pronoun:
        # "And who handles that?" -> that = the previous topic; "Qui s'en occupe ?" -> "Qui s'occupe de X ?".
        template = w.topic_replacement(topic_pronoun)
        rewritten = q[:topic_pronoun.start()] + fill(template, w.joins, topic=last.topic) + q[topic_pronoun.end():]
        # A phrase that names no topic of its own ("doet dat voor X") leaves the message's subject.
        topic = last.topic if "{topic}" in template else topic_of(_without_fillers(rewritten, w), w.language)
    elif dir_pronoun and last.topic.rstrip("?.! ") != last.rewritten.rstrip("?.! "):
        # "When did Belgium ratify it?" after "Tell me about the Ottawa Convention." -> the convention.
        rewritten = q[:dir_pronoun.start()] + last.topic + q[dir_pronoun.end():]
        topic = last.topic
    else:
        # The previous topic is added, not spliced in: a topic that is the whole previous question ("Is Belgium a
        # party to the CTBT?") would make no sentence in the pronoun's place.
        rewritten = fill(w.rewrite["add_topic"], w.joins, question=q.rstrip("?.! "), topic=last.topic)
        topic = last.topic
    rewritten = _without_fillers(rewritten, w)
    rewritten = rewritten[:1].upper() + rewritten[1:]
    return Resolved(rewritten, topic, prev_dir, True)
