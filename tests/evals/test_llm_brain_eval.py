"""The `--brain llm` path through the runner, with a scripted chat model (no network): tool calls,
token usage and cost land in the results, and the prompt files under test are the ones recorded."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk

from agent.llm import LLMBrain
from agent.offline import OfflineBrain
from evals.brains import BrainSpec, LLMConfig
from evals.loader import load_suite
from evals.runner import RunOptions, run_eval
from tools import ALL_TOOLS

USAGE = {"input_tokens": 1000, "output_tokens": 50, "total_tokens": 1050}


class ToolCallingChatModel(GenericFakeChatModel):
    """TEST DOUBLE for ChatOpenAI: replays one scripted AIMessage per call (text and/or tool calls),
    streamed as a single chunk with token usage, like an OpenAI-compatible endpoint would."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ToolCallingChatModel:
        return self

    async def _astream(
        self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        msg: AIMessage = next(self.messages)  # type: ignore[assignment]
        chunks = [
            {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i}
            for i, c in enumerate(msg.tool_calls)
        ]
        yield ChatGenerationChunk(
            message=AIMessageChunk(content=msg.content, tool_call_chunks=chunks, usage_metadata=USAGE)  # type: ignore[arg-type]
        )


@pytest.mark.asyncio(loop_scope="session")
async def test_llm_brain_tool_calls_tokens_and_cost(eval_env, suite_file) -> None:
    path = suite_file("""
suite: t
scenarios:
  - id: llm
    title: t
    customer: {channel: sms, phone: "+18135550177"}
    turns:
      - say: any used tacomas under 35k? 4x4
        expect:
          require: ["$32,995"]
    expect:
      tool_calls: {required: [search_inventory, inventory], forbidden: [booking]}
""")
    model = ToolCallingChatModel(
        messages=iter(
            [
                AIMessage(
                    content="",
                    tool_calls=[
                        {
                            "name": "search_inventory",
                            "args": {"condition": "used", "model": "Tacoma", "price_max": 35000, "drivetrain": "4WD"},
                            "id": "call_1",
                        }
                    ],
                ),
                AIMessage(content="The 2019 Toyota Tacoma TRD Off-Road is $32,995. Want to see it?"),
            ]
        )
    )
    brain = LLMBrain(model=model, tools=ALL_TOOLS, fallback=OfflineBrain(use_embeddings=False))
    options = RunOptions(brain=BrainSpec("llm"), price_in_per_mtok=1.0, price_out_per_mtok=10.0)
    result = await run_eval([load_suite(path)], options, env=eval_env, brain=brain)
    t = result.scenarios[0].trials[0]
    assert t.status == "passed", t.reason
    turn = t.turns[0]
    assert turn.brain == "llm" and [c["tool"] for c in turn.tool_calls] == ["search_inventory"]
    assert turn.tool_calls[0]["args"]["model"] == "Tacoma" and "inventory" in turn.capabilities
    assert t.tokens["brain"] == {"input_tokens": 2000, "output_tokens": 100, "total_tokens": 2100}
    assert t.cost_usd == pytest.approx(2000 / 1e6 * 1.0 + 100 / 1e6 * 10.0)
    assert result.brain == "llm" and result.cost_usd == t.cost_usd
    assert turn.prompt_version and turn.prompt_version.startswith("system.md@")


def test_brain_spec_builds_the_llm_brain_with_the_prompt_files_under_test(tmp_path: Path) -> None:
    system = tmp_path / "system-v2.md"
    system.write_text("---\nversion: 2-short\n---\nYou are the assistant of {dealer_name}. Be brief.\n")
    spec = BrainSpec("llm", llm=LLMConfig("sk-test", "http://llm.test/v1", "gpt-test"), system_prompt=system)
    brain = spec.build()
    assert isinstance(brain, LLMBrain) and brain.prompt_version.startswith("system-v2.md@2-short#")
    assert spec.model == "gpt-test"
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        BrainSpec("llm", llm=LLMConfig(None, None, "gpt-test")).build()
