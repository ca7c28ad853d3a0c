"""The brain under test, and a recorder that keeps what each turn's brain saw and disclosed.

The turn handler builds a fresh `ToolDeps` (with its `TurnFacts`) per turn and hands it to the
brain; `RecordingBrain` keeps a reference, so after `handle_turn` returns the runner can read the
tool calls and disclosures of that turn (the facts are complete then: the handoff is recorded during
persistence). Nothing about the brain's behaviour changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agent.types import Brain, BrainInput, BrainOutput

BrainKind = Literal["offline", "llm"]


@dataclass
class LLMConfig:
    """An OpenAI-compatible endpoint (plain values; the CLI reads them from settings)."""

    api_key: str | None
    base_url: str | None
    model: str
    timeout_s: float = 30.0

    @property
    def configured(self) -> bool:
        return bool(self.api_key or self.base_url)

    def chat_model(self, *, temperature: float | None = 0.3) -> Any:
        from agent.llm import make_chat_model

        return make_chat_model(
            self.api_key, self.base_url, self.model, timeout_s=self.timeout_s, temperature=temperature
        )


@dataclass
class BrainSpec:
    """Which brain to evaluate, and with which prompt files (LLM brain)."""

    kind: BrainKind = "offline"
    llm: LLMConfig | None = None
    system_prompt: Path | None = None
    policy_prompt: Path | None = None

    def build(self) -> Brain:
        from agent.offline import OfflineBrain

        offline = OfflineBrain()
        if self.kind == "offline":
            return offline
        if self.llm is None or not self.llm.configured:
            raise ValueError("the llm brain needs OPENAI_API_KEY and/or OPENAI_BASE_URL (and DEALEROS_MODEL)")
        from agent.llm import LLMBrain
        from tools import ALL_TOOLS

        kwargs: dict[str, Any] = {}
        if self.system_prompt is not None:
            kwargs["system"] = _prompt_file(self.system_prompt)
        if self.policy_prompt is not None:
            kwargs["policy"] = _prompt_file(self.policy_prompt)
        return LLMBrain(model=self.llm.chat_model(), tools=ALL_TOOLS, fallback=offline, **kwargs)

    @property
    def model(self) -> str | None:
        return self.llm.model if self.kind == "llm" and self.llm else None


def _prompt_file(path: Path) -> Any:
    import prompts

    path = path.resolve()
    return prompts.load(path.name, directory=path.parent)


def warm_up(brain: Brain) -> None:
    """Load models now rather than on a scenario's first turn (its latency would be off)."""
    for candidate in (brain, getattr(brain, "fallback", None)):
        fn = getattr(candidate, "warm_up", None)
        if callable(fn):
            fn()


@dataclass
class BrainCall:
    inp: BrainInput
    output: BrainOutput | None = None


@dataclass
class RecordingBrain:
    """Wraps a brain for one run; `take()` returns the calls since the last `take()`."""

    inner: Brain
    calls: list[BrainCall] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.inner.name

    async def respond(self, inp: BrainInput) -> BrainOutput:
        call = BrainCall(inp)
        self.calls.append(call)
        call.output = await self.inner.respond(inp)
        return call.output

    def take(self) -> list[BrainCall]:
        calls, self.calls = self.calls, []
        return calls
