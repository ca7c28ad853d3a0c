"""Text normalisation for consent keywords and plain-language revocations.

`_squash` reduces a message to the form keywords are compared in ("Stop." -> "STOP"); `_normalise`
turns free text into canonical lower-case tokens, fixing the misspellings and shorthand seen in real
opt-out texts, so the classifier's patterns only need one spelling of each word.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache


def _squash(text: str) -> str:
    """'  Stop. ' -> 'STOP', 'opt-out' -> 'OPTOUT', 'Stop all!' -> 'STOPALL'."""
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def _table(spec: str) -> dict[str, str]:
    """'stop: stp sotp' lines -> {'stp': 'stop', 'sotp': 'stop'} (compact, diff-friendly tables)."""
    out: dict[str, str] = {}
    for line in spec.strip().splitlines():
        target, _, variants = line.partition(":")
        out.update(dict.fromkeys(variants.split(), target.strip()))
    return out


# Misspellings and shorthand seen in real opt-out texts, mapped to one spelling.
_TYPOS = _table("""
    stop: stp sotp stpo stopp stahp stawp
    text: txt tx tex
    texts: txts texs
    texting: txting texing textin textn txtin texring textimg textting txtng texteing
    message: msg massage mesage
    messages: msgs massages
    messaging: msging msgn
    calling: callin caling
    emailing: emailin
    sending: sendin sendng sneding snding
    please: pls plz plez pleas plse pleae pleace
    you: u ya yall
    your: ur
    dont: dnt
    do not: donot
    no more: nomore
    unsubscribe: unsub unsubs
    remove: remvoe remov rmv romove
    contact: contat
    contacting: contactin
    harass: harrass
    harassing: harrassing harasing
    alone: alon
    list: lst
    number: numbr num #
""")
_FUZZY_VOCAB = tuple(
    "texting messaging messages calling emailing contacting unsubscribe subscription bothering harassing "
    "spamming notifications promotions please".split()
)
# Real words within fuzzy distance of the vocabulary that must stay themselves.
_NO_FUZZ = frozenset("contracting spending massaging resending pleased pleasure unsubscribed subscriptions".split())


@lru_cache(maxsize=4096)
def _canon(token: str) -> str:
    token = re.sub(r"(.)\1{2,}", r"\1", token)  # stooop -> stop, pleeease -> please
    if token in _TYPOS:
        return _TYPOS[token]
    if len(token) >= 6 and token not in _NO_FUZZ and token not in _FUZZY_VOCAB:
        close = difflib.get_close_matches(token, _FUZZY_VOCAB, n=1, cutoff=0.88)
        if close:
            return close[0]
    return token


_QUOTES = str.maketrans(dict[str, str | int | None]({"’": "'", "‘": "'", "`": "'", "´": "'", "&": " and "}))


def _normalise(text: str) -> str:
    """Lower-case canonical tokens separated by spaces; `|` marks a clause boundary."""
    t = text.lower().translate(_QUOTES)
    t = re.sub(r"\be-mail", "email", t)
    t = re.sub(r"(\w)[*#@$%]+(\w)", r"\1\2", t)  # f*cking -> fcking
    t = re.sub(r"(\w)'(\w)", r"\1\2", t)  # don't -> dont
    t = re.sub(r"\bopt-?out\b", "opt out", t)
    t = re.sub(r"[.,!?;:\n\r()\[\]\"/]+", " | ", t)
    out: list[str] = []
    for tok in re.findall(r"\||[a-z0-9#]+", t):
        if tok == "|":
            if out and out[-1] != "|":
                out.append("|")
            continue
        out.extend(_canon(tok).split())
    while out and out[-1] == "|":
        out.pop()
    return " ".join(out)
