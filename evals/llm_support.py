"""Shared bits of the harness's own LLM use (user simulator, judge): prompt files, filling, usage."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import prompts
from prompts import PromptFile

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"


def load_prompt(name: str) -> PromptFile:
    return prompts.load(name, directory=PROMPTS_DIR)


def fill(template: str, values: dict[str, str]) -> str:
    """Replace known {placeholders}; leave any other braces alone."""
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)


def add_usage(acc: dict[str, int], message: Any) -> None:
    usage = getattr(message, "usage_metadata", None) or {}
    for key in ("input_tokens", "output_tokens", "total_tokens"):
        acc[key] = acc.get(key, 0) + int(usage.get(key) or 0)
    acc["calls"] = acc.get("calls", 0) + 1


def text_of(message: Any) -> str:
    content = getattr(message, "content", message)
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content or "")
