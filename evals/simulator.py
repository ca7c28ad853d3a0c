"""The customer's side of a conversation: scripted turns, or a simulated customer (persona + goal).

The simulated customer is an LLM told who it is, what it wants and which facts it may give; it
answers the assistant one message at a time and ends the conversation with a stop signal when its
goal is met (or clearly can't be). Its messages are generated, so a scenario run with it is one
sample: run it k times and read pass^k.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from evals.llm_support import add_usage, fill, load_prompt, text_of
from evals.scenario import STOP_SIGNAL, Persona


class CustomerSide(Protocol):
    """Produces the customer's next message, or None when the conversation is over."""

    async def next_message(self, assistant_said: str | None) -> str | None: ...


@dataclass
class SimulatedCustomer:
    """An LLM playing the customer. `model` is a LangChain chat model (ChatOpenAI in practice)."""

    model: Any
    persona: Persona
    channel: str
    dealer_name: str
    usage: dict[str, int] = field(default_factory=dict)
    messages: list[BaseMessage] = field(default_factory=list)
    turns: int = 0
    prompt_ref: str = ""

    def __post_init__(self) -> None:
        prompt = load_prompt("user_simulator.md")
        self.prompt_ref = prompt.ref
        known = "\n".join(f"- {k}: {v}" for k, v in self.persona.known.items()) or "- (nothing beyond the goal)"
        system = fill(
            prompt.text,
            {
                "persona": self.persona.persona.strip(),
                "goal": self.persona.goal.strip(),
                "known": known,
                "channel": {"sms": "text message", "chat": "the website chat", "voice": "a phone call"}.get(
                    self.channel, self.channel
                ),
                "dealer_name": self.dealer_name,
                "stop": STOP_SIGNAL,
            },
        )
        self.messages = [SystemMessage(content=system)]

    async def next_message(self, assistant_said: str | None) -> str | None:
        if self.turns >= self.persona.max_turns:
            return None
        if self.turns == 0:
            self.messages.append(HumanMessage(content="(The conversation starts. Send your first message.)"))
            text = self.persona.opening or await self._ask()
        else:
            # The simulator sees the assistant as the "user" side of its own chat.
            self.messages.append(HumanMessage(content=assistant_said or "(no reply)"))
            text = await self._ask()
        if not text or STOP_SIGNAL in text:
            return None
        self.messages.append(AIMessage(content=text))
        self.turns += 1
        return text

    async def _ask(self) -> str:
        response = await self.model.ainvoke(self.messages)
        add_usage(self.usage, response)
        return text_of(response).strip()
