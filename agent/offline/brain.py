"""The offline brain: intents + entities + slots + rules, no network. The embedded default and the
LLM brain's fallback; deterministic for a given conversation and inventory."""

from __future__ import annotations

import json
import logging
from typing import Any

from agent.offline import policy
from agent.offline.nlu import INTENTS_FILE, classify, example_index
from agent.offline.render import TEMPLATES_FILE, Composer
from agent.offline.state import Turn
from agent.offline.vocab import matcher_for
from agent.types import BrainInput, BrainOutput, HandoffRequest, Reply
from prompts import load, prompt_set_ref
from tools.inventory import inventory_vocabulary

log = logging.getLogger(__name__)


_PENDING_NEEDS = {
    "confirm": ("ctx", "iso", "label"),
    "choose_slot": ("ctx", "offered"),
    "ask_time": ("ctx",),
    "ask_service": ("ctx",),
    "confirm_cancel": ("appointment_id", "label", "what"),
    "which_appointment": ("action", "ids"),
    "offer_booking": ("department", "kind"),
    "offer_notify": ("desc",),
    "pick_vehicle": (),
    "ask_contact": (),
}
_CTX_NEEDS = ("action", "department")


def sanitize(dialogue: dict[str, Any]) -> dict[str, Any]:
    """Drop slots an older version (or another brain) left in a shape this policy can't use."""
    pending = dialogue.get("pending")
    if pending is not None:
        needs = _PENDING_NEEDS.get(str(pending.get("type"))) if isinstance(pending, dict) else None
        ok = needs is not None and all(k in pending for k in needs)
        if ok and needs and "ctx" in needs:
            ok = isinstance(pending["ctx"], dict) and all(k in pending["ctx"] for k in _CTX_NEEDS)
        if not ok:
            dialogue.pop("pending", None)
    for key in ("results",):
        if not isinstance(dialogue.get(key, []), list) or any(
            not isinstance(r, dict) or "vin" not in r for r in dialogue.get(key, [])
        ):
            dialogue.pop(key, None)
    if "focus" in dialogue and not (isinstance(dialogue["focus"], dict) and "vin" in dialogue["focus"]):
        dialogue.pop("focus")
    if not isinstance(dialogue.get("criteria", {}), dict):
        dialogue.pop("criteria")
    return dialogue


def _json_safe(value: Any) -> Any:
    """The dialogue is checkpointed: keep only JSON types (round-trip drops anything else)."""
    return json.loads(json.dumps(value, default=str))


class OfflineBrain:
    """`respond(BrainInput) -> BrainOutput`; see agent/offline/policy.py for the rules it follows."""

    name = "offline"

    def __init__(self, *, use_embeddings: bool = True) -> None:
        self.use_embeddings = use_embeddings

    def warm_up(self) -> None:
        """Load the embedding model and embed the example utterances now rather than on a first turn."""
        load(TEMPLATES_FILE)
        load(INTENTS_FILE)
        if self.use_embeddings:
            index = example_index()
            if index is not None:
                index.nearest("hello")

    @staticmethod
    def prompt_version() -> str:
        return prompt_set_ref(load(TEMPLATES_FILE), load(INTENTS_FILE))

    async def respond(self, inp: BrainInput) -> BrainOutput:
        deps = inp.deps
        dialogue = sanitize(_json_safe(dict(inp.dialogue or {})))
        dialogue["turn"] = int(dialogue.get("turn", 0)) + 1
        try:
            vocab = await inventory_vocabulary(deps)
        except Exception:  # an empty or unreachable inventory must not cost the customer an answer
            log.warning("offline brain: no inventory vocabulary", exc_info=True)
            vocab = None
        service = deps.dealer.departments.get("service")
        kinds = list(service.appointments.kinds) if service and service.appointments else []
        pending = dialogue.get("pending") or {}
        parse = classify(
            inp.text,
            matcher_for(vocab),
            service_kinds=kinds,
            expecting_name=pending.get("type") == "ask_contact" and pending.get("ask") in {"name", "both"},
            use_embeddings=False,  # the policy asks for the examples only when rules and slots don't decide
        )
        if not self.use_embeddings:
            parse.source = "rules-only"
        out = Composer(channel=inp.channel, seed=inp.customer.id, turn=dialogue["turn"])
        turn = Turn(inp=inp, parse=parse, matcher=matcher_for(vocab), dialogue=dialogue, out=out)
        try:
            await policy.decide(turn)
        except Exception:
            log.exception("offline brain failed on %r", inp.text[:200])
            out.parts.clear()
            out.say("error", 0, phone=deps.dealer.phone)
            turn.handoff = HandoffRequest(
                reason="cannot_help", priority="normal", summary=f"Assistant error on: {inp.text[:200]}"
            )
            turn.intent = "error"
        if not out.parts:
            out.say("clarify", 0, name=deps.dealer.name)
        text = out.render(deps.dealer.messaging.sms_max_chars)
        chat = inp.channel == "chat"
        reply = Reply(text=text, quick_replies=out.quick_replies[:4] if chat else [], cards=turn.cards if chat else [])
        turn.dialogue["last_intent"] = turn.intent or parse.intent
        if inp.emit is not None:
            await inp.emit(text)
        return BrainOutput(
            reply=reply,
            dialogue=_json_safe(turn.dialogue),
            handoff=turn.handoff,
            intent=turn.intent or parse.intent,
            profile_updates=turn.profile_updates,
            interests=turn.interests,
            brain=self.name,
            prompt_version=self.prompt_version(),
            usage={"nlu": parse.source, "score": parse.score, "intents": parse.intents},
        )
