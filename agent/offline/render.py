"""Reply templates (prompts/offline/templates.yaml) rendered and sized for the channel.

A reply is assembled from parts, each one or two sentences with a priority (0 = the answer,
1 = a helpful follow-up, 2 = nice to have). Chat gets everything plus quick replies and vehicle
cards; SMS drops the least important parts until it fits 320 characters; voice keeps the two most
important sentences, speaks prices as "31,995 dollars" and never reads out a URL.
Template variants are chosen by a hash of customer id, turn and template name: stable in tests,
varied across a conversation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import prompts
from agent.guards import fit_sms, for_voice, split_sentences
from agent.offline.text import stable_hash
from agent.types import SMS_MAX_CHARS, VOICE_MAX_SENTENCES

TEMPLATES_FILE = "offline/templates.yaml"


def templates() -> prompts.PromptFile:
    return prompts.load(TEMPLATES_FILE)


def money(value: float | int | None, channel: str) -> str:
    """$31,995 in text; "31,995 dollars" spoken."""
    if value is None:
        return "call for price"
    whole = round(float(value))
    if abs(float(value) - whole) > 0.004:
        return f"{float(value):,.2f} dollars" if channel == "voice" else f"${float(value):,.2f}"
    return f"{whole:,} dollars" if channel == "voice" else f"${whole:,}"


_DOLLARS = re.compile(r"\$(\d[\d,]*)(?:\.(\d\d))?")


def speak_money(text: str) -> str:
    """Dollar figures in quoted text, the way a voice says them ("$79.95" -> "79.95 dollars")."""

    def say(m: re.Match[str]) -> str:
        cents = m.group(2)
        return f"{m.group(1)}.{cents} dollars" if cents and cents != "00" else f"{m.group(1)} dollars"

    return _DOLLARS.sub(say, text)


def miles(value: int | None, channel: str) -> str:
    if value is None:
        return "mileage not listed"
    return f"{value:,} miles" if channel == "voice" else f"{value:,} mi"


@dataclass
class Part:
    text: str
    priority: int = 1


@dataclass
class Composer:
    """Collects the parts of one reply and renders them for the channel."""

    channel: str
    seed: str
    turn: int
    parts: list[Part] = field(default_factory=list)
    quick_replies: list[str] = field(default_factory=list)

    # --- templates ---------------------------------------------------------------------------
    def t(self, key: str, **values: Any) -> str:
        """A template variant for this channel, filled in ("{name}" etc.)."""
        entry = templates().data["templates"][key]
        if isinstance(entry, dict):
            variants = (
                entry.get(self.channel) or entry.get("text" if self.channel != "voice" else "voice") or entry["default"]
            )
        else:
            variants = entry
        choice = variants[stable_hash(self.seed, self.turn, key) % len(variants)]
        return " ".join(str(choice).format_map(_Blank(values)).split())

    def say(self, key: str, priority: int = 1, **values: Any) -> None:
        self.add(self.t(key, **values), priority)

    def add(self, text: str, priority: int = 1) -> None:
        text = text.strip()
        if text and all(p.text != text for p in self.parts):
            self.parts.append(Part(text, priority))

    def first(self, text: str) -> None:
        """Put the most important sentence first (e.g. an apology before the answer)."""
        text = text.strip()
        if text:
            self.parts.insert(0, Part(text, 0))

    def offer(self, *labels: str) -> None:
        for label in labels:
            if label not in self.quick_replies:
                self.quick_replies.append(label)

    def money(self, value: float | int | None) -> str:
        return money(value, self.channel)

    # --- rendering ---------------------------------------------------------------------------
    def render(self, sms_limit: int = SMS_MAX_CHARS) -> str:
        parts = [p for p in self.parts if p.text]
        if self.channel == "voice":
            return self._voice(parts)
        if self.channel == "sms":
            return self._sms(parts, sms_limit)
        return "\n".join(_join_lines(p.text for p in parts)).strip()

    def _sms(self, parts: list[Part], limit: int) -> str:
        kept = list(parts)
        text = _flat(kept)
        while len(text) > limit and any(p.priority > 0 for p in kept):
            kept.pop(max(range(len(kept)), key=lambda i: (kept[i].priority, i)))  # least important, last first
            text = _flat(kept)
        return fit_sms(text, limit)

    def _voice(self, parts: list[Part]) -> str:
        sentences: list[tuple[int, int, str]] = []
        for order, part in enumerate(parts):
            spoken = for_voice(speak_money(part.text))
            for s, _ in split_sentences(spoken):
                if s.strip():
                    sentences.append((part.priority, order, s.strip()))
        best = sorted(sentences, key=lambda x: (x[0], x[1]))[:VOICE_MAX_SENTENCES]
        best.sort(key=lambda x: x[1])
        return " ".join(s for _, _, s in best)


class _Blank(dict):  # type: ignore[type-arg]
    """format_map values where a missing key renders as nothing instead of raising."""

    def __missing__(self, key: str) -> str:
        return ""


def _join_lines(texts: Any) -> list[str]:
    """Sentences run together; a list (several lines, or "1. …") stands on its own lines."""
    out: list[str] = []
    last_was_list = True
    for text in texts:
        is_list = "\n" in text or bool(re.match(r"^\d+[.)] ", text))
        if out and not is_list and not last_was_list:
            out[-1] = f"{out[-1]} {text}"
        else:
            out.append(text)
        last_was_list = is_list
    return out


def _flat(parts: list[Part]) -> str:
    texts = [p.text if p.text[-1:] in ".!?:;)" else p.text + "." for p in parts]
    return re.sub(r"\s*\n\s*", " ", " ".join(texts)).strip()
