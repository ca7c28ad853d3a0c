"""Fake models, so a benchmark measures the runtime and not a model: chat models of fixed latency and
an embedding model of zero latency (`InstantEncoder`, at the end).

`FixedLatencyChatModel` is a LangChain chat model that never touches a network:

* `bind_tools` returns the model itself (LangChain's own fakes raise `NotImplementedError` there);
* per call it decides from the messages, not from a script, so one instance can serve any number of
  concurrent customers: when the last message is a tool result it answers, otherwise it calls
  `tool_name` with `tool_args` (or answers at once when `tool_name` is None, or when `tool_when` is set
  and the customer's message doesn't contain it);
* every call waits `latency_s` before its first chunk (the time to first token, TTFT), then streams
  the answer word by word `token_gap_s` apart; a tool call is one chunk after `tool_latency_s`.

It implements both `_agenerate` (what `create_react_agent` calls) and `_astream` (what DealerOS's
`LLMBrain` calls) natively in asyncio, so neither path pays for a thread hop the other doesn't.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

# Two sentences (the voice stream guard forwards the first once the second starts) that make no claim the
# outbound guard would have to check against tool facts, so every turn takes the same guard path.
DEFAULT_ANSWER = "Happy to help with that! Would you like to come by and take a look?"
_ids = itertools.count(1)


class FixedLatencyChatModel(BaseChatModel):
    """A tool-calling chat model with a fixed time to first token (see the module docstring)."""

    tool_name: str | None = None
    tool_args: dict[str, Any] = Field(default_factory=dict)
    tool_when: str | None = None  # call the tool only when the last human message contains this
    answer: str = DEFAULT_ANSWER
    latency_s: float = 0.0  # before the answer's first chunk
    tool_latency_s: float = 0.0  # before the tool-call chunk
    token_gap_s: float = 0.0  # between the answer's chunks
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "dealeros-bench-fake"

    def bind_tools(self, tools: Any, **kwargs: Any) -> FixedLatencyChatModel:
        return self

    def _wants_tool(self, messages: list[BaseMessage]) -> bool:
        if not self.tool_name or (messages and isinstance(messages[-1], ToolMessage)):
            return False
        if self.tool_when is None:
            return True
        human = next((m for m in reversed(messages) if isinstance(m, HumanMessage)), None)
        return human is not None and self.tool_when.lower() in human.text.lower()

    def _tool_call(self) -> dict[str, Any]:
        return {"name": self.tool_name, "args": dict(self.tool_args), "id": f"call_{next(_ids)}", "type": "tool_call"}

    def _words(self) -> list[str]:
        words = self.answer.split(" ")
        return [w if i == 0 else " " + w for i, w in enumerate(words)]

    # --- non-streaming (create_react_agent) ---------------------------------------------------------
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        raise NotImplementedError("benchmarks run the model asynchronously")

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls += 1
        if self._wants_tool(messages):
            if self.tool_latency_s:
                await asyncio.sleep(self.tool_latency_s)
            message = AIMessage(content="", tool_calls=[self._tool_call()])
        else:
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            if self.token_gap_s:
                await asyncio.sleep(self.token_gap_s * (len(self._words()) - 1))
            message = AIMessage(content=self.answer)
        return ChatResult(generations=[ChatGeneration(message=message)])

    # --- streaming (DealerOS's LLMBrain) ------------------------------------------------------------
    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        raise NotImplementedError("benchmarks run the model asynchronously")

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        self.calls += 1
        if self._wants_tool(messages):
            if self.tool_latency_s:
                await asyncio.sleep(self.tool_latency_s)
            call = self._tool_call()
            chunk = tool_call_chunk(name=call["name"], args=json.dumps(call["args"]), id=call["id"], index=0)
            yield ChatGenerationChunk(message=AIMessageChunk(content="", tool_call_chunks=[chunk]))
            return
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        for i, word in enumerate(self._words()):
            if i and self.token_gap_s:
                await asyncio.sleep(self.token_gap_s)
            yield ChatGenerationChunk(message=AIMessageChunk(content=word))


def vehicle_lookup_model(stock_number: str, **kwargs: Any) -> FixedLatencyChatModel:
    """The benchmarks' model: one `get_vehicle_details` call (a cheap READ tool) per turn, then an answer."""
    return FixedLatencyChatModel(tool_name="get_vehicle_details", tool_args={"vin_or_stock": stock_number}, **kwargs)


class InstantEncoder:
    """A fake embedding model of zero latency: the encoder an `Embedder` wraps, answering from vectors
    the real model made beforehand, outside the clock (`make_ready`), so a turn's recall returns what
    it would with the model while the model's own inference costs nothing — what `FixedLatencyChatModel`
    at zero latency does for the chat model. Texts not made ready go to the real model (in benchmark
    1, none: a turn's memory write finds its text in the embedder's cache, put there by its recall)."""

    runtime = "instant (bench fake)"

    def __init__(self, real: Any) -> None:
        self._real = real  # texts -> unit vectors, float32 (n, 384): the bundled model's encoder
        self._ready: dict[str, Any] = {}
        self.served_ready = 0  # texts answered at once
        self.sent_to_model = 0  # texts the real model embedded when asked

    def make_ready(self, text: str) -> None:
        """Embed `text` with the real model now, so the next embedding of it returns at once."""
        self._ready[text] = self._real([text])[0]

    def __call__(self, texts: list[str]) -> Any:
        import numpy as np

        out: list[Any] = [self._ready.pop(t, None) for t in texts]
        missing = [i for i, v in enumerate(out) if v is None]
        self.served_ready += len(texts) - len(missing)
        self.sent_to_model += len(missing)
        if missing:
            for i, vector in zip(missing, self._real([texts[i] for i in missing]), strict=True):
                out[i] = vector
        return np.asarray(out, dtype=np.float32)
