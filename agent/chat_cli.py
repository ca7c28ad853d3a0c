"""`dealeros chat`: be the customer in a terminal, on any channel, or script it through stdin."""

from __future__ import annotations

import asyncio
import secrets
import sys

from agent.types import InboundMessage
from tools.dealer import DealerConfig


async def run_chat(
    agent, dealer: DealerConfig, *, channel: str, phone: str | None, email: str | None, visitor: str | None
) -> int:
    interactive = sys.stdin.isatty()
    if channel == "chat" and not (phone or email or visitor):
        visitor = f"cli-{secrets.token_hex(6)}"
    if interactive:
        who = phone or email or visitor
        print(f"Chatting with {dealer.name} on {channel} as {who}. Ctrl-D to leave.", file=sys.stderr)

    streamed: list[str] = []

    async def stream(delta: str) -> None:
        streamed.append(delta)
        print(delta, end="", flush=True)

    while True:
        try:
            line = await asyncio.to_thread(input, "you> " if interactive else "")
        except EOFError:
            break
        except KeyboardInterrupt:
            print(file=sys.stderr)
            break
        msg = InboundMessage(dealer=dealer.id, channel=channel, text=line, phone=phone, email=email, visitor_id=visitor)
        if interactive:
            print(f"{dealer.name}> ", end="", flush=True)
        streamed.clear()
        result = await agent.handle_turn(msg, emit=stream if interactive else None)
        for reply in result.replies:
            text = reply.text
            if reply.cards and not interactive:
                text += "".join(f"\n  - {c.title}" + (f" ${c.price:,}" if c.price else "") for c in reply.cards)
            if reply.quick_replies:
                text += "\n  [" + " | ".join(reply.quick_replies) + "]"
            if streamed and "".join(streamed).strip() == reply.text.strip():
                print(flush=True)  # already shown token by token
            else:
                print(("\n" if streamed else "") + text, flush=True)
        if not result.replies:
            note = f"(no reply: {result.suppressed})" if result.suppressed else "(no reply)"
            print(note, flush=True)
        if result.handoff_id:
            print(f"(handed to staff: {result.handoff_id})", file=sys.stderr, flush=True)
    return 0
