"""The answering stage: question + conversation -> cited answer and directorate (CLI, HTTP, widget).

Python use::

    from assistant import Settings, load_assistant
    bot = load_assistant(Settings())          # loads the model and the index once
    answer = bot.ask("Which directorate handles cyber issues?")
    answer.directorate.code, answer.citations[0].text   # the passages it stands on; answer.related: the others
"""

from __future__ import annotations

from .config import Settings
from .errors import DGMError, InputError
from .factory import build, load_assistant
from .models import Answer, Citation, DirectorateMatch, Hit, Passage, Routing, RoutingSignals, Trace, Turn
from .pipeline import AskOptions, Assistant, Engine
from .question import Question

__all__ = [
    "Answer",
    "AskOptions",
    "Assistant",
    "Citation",
    "DGMError",
    "DirectorateMatch",
    "Engine",
    "Hit",
    "InputError",
    "Passage",
    "Question",
    "Routing",
    "RoutingSignals",
    "Settings",
    "Trace",
    "Turn",
    "build",
    "load_assistant",
]
