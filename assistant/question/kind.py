"""What a question asks for, by its wording: small talk, consular services, another country's policy, a
specific figure or person, a fact of another kind (history, an event's outcome, a ranking), or policy.

The DGM pages describe remits and policy themes; these kinds they do not answer, whatever words they share
with them (the scope model weighs the kind with the retrieval's signals).
"""

from __future__ import annotations

import re

from .followup import REMIT_VERBS

# Question types that the DGM pages do not answer, whatever words they share with them.
_SMALL_TALK = re.compile(
    r"^\s*(?:hi|hello|hey|good\s+(?:morning|afternoon|evening|night)|thanks?(?:\s+you)?|bye|goodbye)\b[\s!.,?]*"
    r"(?:how\s+are\s+you)?[\s!.,?]*$|\bhow\s+are\s+you\b|\btell\s+me\s+a\s+joke\b|\bwho\s+are\s+you\b"
    r"|\bwhat(?:'s|\s+is)\s+the\s+weather\b|\bweather\b|\brecipe\b|\bfootball\b|\bscore\s+of\b|\bpoem\b"
    r"|^\s*(?:thanks?|thank\s+you|ok(?:ay)?|great|perfect|cool)\b[^?]*$"
    r"|\b(?:write|compose|draft)\s+(?:me\s+)?(?:an?\s+|my\s+)?(?:essay|poem|story|letter|song|speech|tweet|cv|"
    r"resume|résumé|cover\s+letter|application)\b|\bhelp\s+me\s+(?:write|draft|prepare)\b",
    re.IGNORECASE)
_CONSULAR = re.compile(
    r"\b(?:passports?|visas?|schengen|consular|consulates?|embass(?:y|ies)|apostille|legali[sz]ation|legali[sz]e|"
    r"birth\s+certificate|marriage\s+certificate|identity\s+card|id\s+card|travel\s+advice|opening\s+hours|"
    r"residence\s+permit|work\s+permit|nationality\s+application|citizenship|repatriat\w*|stolen|lost\s+my|"
    r"safe\s+to\s+travel|travel\s+to\s+\w+\s+(?:now|safely)|diploma)\b",
    re.IGNORECASE)
_COUNTRIES = (r"France|Germany|the\s+Netherlands|Netherlands|Luxembourg|Italy|Spain|Poland|Sweden|Norway|Denmark|"
              r"Finland|Austria|Portugal|Greece|Ireland|the\s+UK|United\s+Kingdom|Britain|the\s+United\s+States|"
              r"United\s+States|the\s+US|USA|China|Russia|Japan|India|Brazil|Canada|Turkey|Ukraine|Israel|Iran|"
              r"Saudi\s+Arabia|South\s+Africa|Australia|Mexico|Hungary")
# A country other than Belgium as the subject of a view, vote, rule or policy.
_OTHER_SUBJECT = re.compile(
    rf"\b(?i:how\s+(?:does|did|do|is)|what\s+(?:does|did|do)|why\s+(?:does|did))\s+(?:{_COUNTRIES})(?:'s)?"
    r"(?:\s+(?:government|authorities|minister|parliament))?\s+(?:\w+\s+)?(?:think|vote|voted|regulate|regulates|"
    r"approach|handle|handles|view|see|say|position|plan|treat|deal)\b"
    rf"|\b(?:{_COUNTRIES})(?:'s)\s+(?:\w+\s+)?(?:doctrine|position|policy|policies|stance|view|views|strategy|"
    r"law|laws|vote|government)\b")
_OTHER_COUNTRY = re.compile(
    r"\b(?:France|French|Germany|German|the\s+Netherlands|Dutch|Luxembourg|Italy|Italian|Spain|Spanish|Poland|"
    r"Sweden|Norway|Denmark|Finland|Austria|Portugal|Greece|Ireland|the\s+UK|United\s+Kingdom|Britain|British|"
    r"United\s+States|the\s+US|USA|American|China|Chinese|Russia|Russian|Japan|Japanese|India|Brazil|Canada|"
    r"Turkey|Ukraine)(?:'s)?\s+(?:foreign\s+)?(?:position|policy|policies|stance|view|government|ministers?|"
    r"ministry|ministries|authorities|parliament|diplomacy|diplomats|approach|strategy)\b"
    r"|\b(?:position|policy|policies|stance|view|approach|strategy)\s+of\s+(?:France|Germany|the\s+Netherlands|"
    r"Italy|Spain|the\s+UK|the\s+United\s+Kingdom|the\s+United\s+States|the\s+US|China|Russia|Japan|India)\b")
# Domestic and everyday matters that no foreign-policy page covers.
_DOMESTIC = re.compile(
    r"\b(?:pensions?|tax(?:es)?|vat|unemployment|health\s+insurance|driving\s+licen[cs]e|parking|exchange\s+rate|"
    r"stock\s+market|parliament\s+votes?\s+a\s+law|federal\s+parliament|restaurants?|"
    r"(?:electricity|gas|energy|fuel|petrol)\s+(?:bills?|prices?|suppliers?|tariffs?)|price\s+of\s+(?:electricity|gas|"
    r"fuel|petrol))\b",
    re.IGNORECASE)
# A specific figure, date, person or piece of news: the pages describe remits; they give no names, no
# contact details, no news, and figures only where a passage holds a number (checked in scope_features).
_FIGURE = re.compile(
    r"\bhow\s+(?:much|many)\b|\bwhat\s+(?:is|was)\s+the\s+(?:amount|number|total|salary)\b"
    r"|\b(?:budget|spend|spending|pay|paid|cost)s?\b.*\b(?:for|in)\s+(?:19|20)\d\d\b|\b(?:19|20)\d\d\b.*\bbudget\b"
    r"|\bwhat(?:'s|\s+is)\s+the\s+\w+'s\s+budget\b|\b20[1-3]\d\b",
    re.IGNORECASE)
_SPECIFIC = re.compile(
    r"\bwhen\s+(?:did|was|will)\b|\bwho\s+(?:is|was|are|were)\s+(?:the\s+|belgium's\s+)?"
    r"(?:current\s+|first\s+|last\s+|new\s+|next\s+)?(?:[\w'-]+\s+){0,3}?(?:ministers?|ambassadors?|permanent\s+"
    r"representative|director|head|chief|spokesperson|president|secretary[\s-]general|king|queen|prime\s+minister|"
    r"commissioner|chair(?:man|woman|person)?)\b"
    r"|\bname\s+of\s+the\s+(?:head|director|minister|ambassador)\b|'s\s+name\b|\baddress\s+(?:of|for)\b"
    r"|\bphone\s+number\b|\bemail\s+address\b|\bcontact\s+person\b",
    re.IGNORECASE)
# News and the moment: "the latest news on the ceasefire", "what did the minister say last week". Such words in a
# question about who handles a topic, or about a named unit, ask about the remit as it stands ("Who handles UN
# sanctions right now?", "What does M4 do today?"), which the pages give; and "fake news" is disinformation, a
# topic of M1's, not a piece of news.
_TIMELY = re.compile(
    r"\b(?:latest|yesterday|today|tomorrow|this\s+(?:week|month|year)|last\s+(?:week|month|year)|"
    r"currently|right\s+now)\b|(?<!fake\s)\bnews\b",
    re.IGNORECASE)
# A question about who handles a topic (not about a person: "Who chairs the Human Rights Council this year?").
_REMIT = re.compile(
    r"\bwhich\s+(?:[\w-]+\s+)?(?:directorates?|services?|units?|departments?|teams?|offices?)\b"
    rf"|\bwho\s+(?:[\w'-]+\s+){{0,4}}?(?:{REMIT_VERBS}|works\s+on)\b",
    re.IGNORECASE)
# Facts of another kind: who founded or won something, the outcome of an event, a ranking, a list of
# companies, ministers or organisations, statistics about a country. The pages describe remits and policy
# themes; they hold none of these.
_SUPERLATIVE = r"(?:largest|biggest|smallest|richest|poorest|strongest|most\s+powerful|most\s+populous)"
_FACTOID = re.compile(
    r"\bwho\s+(?:founded|created|invented|won|wrote|signed|started|established|built|discovered)\b"
    r"|\bhistory\s+of\b|\b(?:outcome|results?|winner|conclusions?)\s+of\s+(?:the\s+)?(?:last|latest|recent|\d{4})\b"
    r"|\b(?:last|latest|recent|upcoming|next)\s+(?:\w+\s+)?(?:summit|meeting|session|elections?|conference|vote|"
    r"visit|speech)\b"
    rf"|\b{_SUPERLATIVE}\b[^?.]*\bin\s+the\s+world\b"
    rf"|\b{_SUPERLATIVE}\s+(?:arm(?:y|ies)|countr(?:y|ies)|cit(?:y|ies)|econom(?:y|ies)|compan(?:y|ies)|militar(?:y|ies))\b"
    r"|\bwhich\s+(?:\w+\s+)?(?:minister|ministers|ambassadors?|politicians?|companies|company|firms?|ngos?|banks?|"
    r"people|persons?|countries|states|cities|airlines|universities|suppliers?|providers?|brands?|shops?|stores?|"
    r"restaurants?|hotels?)\b"
    r"|\bwhat\s+(?:happened|was\s+decided)\b|\bwhat(?:'s|\s+is|\s+are)\s+the\s+best\b"
    r"|\bpopulation\s+of\b|\bgdp\b",
    re.IGNORECASE)
# A request about the asker's own affairs ("how do I ...", "can I ...", "my company"): a personal service, which
# no policy page gives. Asking where to find or read something is not one.
_PERSONAL = re.compile(
    r"\b(?:how\s+(?:do|can|should|would)\s+I|can\s+I|could\s+I|do\s+I\s+need|should\s+I|what\s+should\s+I\s+do|"
    r"where\s+(?:can|do|should|could)\s+I)\s+(?!find\b|read\b|learn\b|see\b|look\b)"
    r"|\bmy\s+(?!question\b)\w+|\b(?:help|book|give|send|get)\s+me\b(?!\s+(?:about|more|information|an?\s+overview))",
    re.IGNORECASE)
def question_type(question: str, names_code: bool = False) -> str:
    """``small_talk``, ``consular``, ``domestic``, ``personal``, ``other_country``, ``factoid``, ``specific``,
    ``figure`` or ``policy``; ``names_code``: the question names a unit by its code."""
    if _OTHER_SUBJECT.search(question) and not re.search(r"\bBelgi", question):
        return "other_country"
    for name, pat in (("small_talk", _SMALL_TALK), ("consular", _CONSULAR), ("domestic", _DOMESTIC),
                      ("personal", _PERSONAL),
                      ("other_country", _OTHER_COUNTRY), ("factoid", _FACTOID),
                      ("specific", _SPECIFIC)):
        if pat.search(question):
            return name
    if _TIMELY.search(question) and not (_REMIT.search(question) or names_code):
        return "specific"  # before "figure": "How much did Belgium pay last year?" asks about an event
    return "figure" if _FIGURE.search(question) else "policy"
