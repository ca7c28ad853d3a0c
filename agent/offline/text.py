"""Text clean-up shared by the entity extractors and the intent classifier.

Customers write "tmrw", "u", "whats", "rav 4" and "$35,000" — everything downstream reads one
lower-case, slang-expanded form so each rule is written once.
"""

from __future__ import annotations

import re
import unicodedata

# Whole-word replacements (lower case). Ambiguous words ("sat", "id", "its") are left alone.
SLANG = {
    "u": "you",
    "ya": "you",
    "ur": "your",
    "r": "are",
    "pls": "please",
    "plz": "please",
    "plss": "please",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "tmrow": "tomorrow",
    "tmrrw": "tomorrow",
    "tomoro": "tomorrow",
    "tomorow": "tomorrow",
    "tommorow": "tomorrow",
    "tommorrow": "tomorrow",
    "tomorrw": "tomorrow",
    "2morrow": "tomorrow",
    "2moro": "tomorrow",
    "2day": "today",
    "tdy": "today",
    "tonite": "tonight",
    "thx": "thanks",
    "thnx": "thanks",
    "thanx": "thanks",
    "tks": "thanks",
    "ty": "thank you",
    "tysm": "thank you so much",
    "appt": "appointment",
    "appts": "appointments",
    "apt": "appointment",
    "wanna": "want to",
    "gonna": "going to",
    "gotta": "got to",
    "hrs": "hours",
    "thru": "through",
    "b4": "before",
    "cuz": "because",
    "bc": "because",
    "wat": "what",
    "wut": "what",
    "whats": "what is",
    "wheres": "where is",
    "hows": "how is",
    "whens": "when is",
    "dont": "don't",
    "cant": "can't",
    "wont": "won't",
    "didnt": "didn't",
    "doesnt": "doesn't",
    "isnt": "isn't",
    "im": "i'm",
    "ive": "i've",
    "youre": "you're",
    "thats": "that's",
    "theres": "there's",
    "lemme": "let me",
    "gimme": "give me",
    "msg": "message",
    "txt": "text",
    "ppl": "people",
    "w/": "with",
    "info": "information",
    "nite": "night",
    "yea": "yeah",
    "ye": "yes",
    "yup": "yep",
    "k": "ok",
    "kk": "ok",
    "okay": "ok",
    "okey": "ok",
    "alright": "ok",
    "aight": "ok",
    "rn": "right now",
    "asap": "as soon as possible",
    "mins": "minutes",
    "num": "number",
    "svc": "service",
    "veh": "vehicle",
    "wknd": "weekend",
    "wkend": "weekend",
    "tues": "tuesday",
    "weds": "wednesday",
    "thurs": "thursday",
    "thur": "thursday",
    "thu": "thursday",
}

_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "\u00a0": " "})
_WORD = re.compile(r"[a-z0-9$/]+(?:['][a-z]+)?|[^\sa-z0-9]")


def fold(text: str) -> str:
    """Lower case, ASCII quotes and dashes, no accents, single spaces."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", text).strip().lower()


def normalize(text: str) -> str:
    """`fold` plus slang expansion: the form every rule and the classifier read."""
    text = fold(text)
    text = re.sub(r"\bw/o\b", "without", text)
    text = re.sub(r"\bw/", "with ", text)
    text = re.sub(r"(\d) (k|grand)\b", r"\1\2", text)  # "35 k" -> "35k" before "k" means ok
    text = re.sub(r"(\d),(\d{3})\b", r"\1\2", text)  # 35,000 -> 35000 (twice for 1,234,567)
    text = re.sub(r"(\d),(\d{3})\b", r"\1\2", text)

    def swap(m: re.Match[str]) -> str:
        word = m.group(0)
        return SLANG.get(word, word)

    text = re.sub(r"(?<![\w'$])[a-z0-9/']+(?![\w'])", swap, text)
    return re.sub(r"\s+", " ", text).strip()


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text)


def compact(text: str) -> str:
    """Letters and digits only: "RAV 4", "rav-4" and "Rav4" all become "rav4"."""
    return re.sub(r"[^a-z0-9]", "", fold(text))


def damerau(a: str, b: str, limit: int = 3) -> int:
    """Optimal string alignment distance, stopping early once it exceeds `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def stable_hash(*parts: object) -> int:
    """A hash that is the same in every process (str hash is salted per process)."""
    import hashlib

    raw = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big")
