"""Prompts, policies and reply templates live here as versioned files, never as inline strings.

Every file starts with a YAML front matter block holding at least `version:`. Markdown files
(`*.md`) are text prompts; YAML files (`*.yaml`) are structured (e.g. offline reply templates) and
carry `version:` as a top-level key. Each turn and eval result records `PromptFile.ref` (name,
version and a content hash), so a result can always be traced to the exact words that produced it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

PROMPTS_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class PromptFile:
    name: str
    version: str
    sha: str  # first 12 hex of sha256 of the file
    text: str  # body without front matter (markdown) or the raw file (yaml)
    data: Any = None  # parsed YAML for structured files
    meta: Any = None

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}#{self.sha}"


def _split_front_matter(raw: str) -> tuple[dict[str, Any], str]:
    if raw.startswith("---\n"):
        end = raw.find("\n---", 4)
        if end != -1:
            meta = yaml.safe_load(raw[4:end]) or {}
            return meta, raw[end + 4 :].lstrip("\n")
    return {}, raw


@lru_cache(maxsize=64)
def load(name: str, directory: Path = PROMPTS_DIR) -> PromptFile:
    """Load `name` (e.g. "system.md" or "offline/templates.yaml") from the prompts directory."""
    path = (directory / name).resolve()
    if directory.resolve() not in path.parents:
        raise ValueError(f"prompt {name!r} is outside {directory}")
    raw = path.read_text(encoding="utf-8")
    sha = hashlib.sha256(raw.encode()).hexdigest()[:12]
    if path.suffix in {".yaml", ".yml"}:
        data = yaml.safe_load(raw) or {}
        if "version" not in data:
            raise ValueError(f"{name}: a prompt file needs a top-level `version:`")
        return PromptFile(name=name, version=str(data["version"]), sha=sha, text=raw, data=data, meta=data)
    meta, body = _split_front_matter(raw)
    if "version" not in meta:
        raise ValueError(f"{name}: a prompt file needs `version:` in its front matter")
    return PromptFile(name=name, version=str(meta["version"]), sha=sha, text=body, meta=meta)


def prompt_set_ref(*files: PromptFile) -> str:
    """One reference for the set of prompt files a turn used."""
    return "+".join(f.ref for f in files)
