"""The optional LLM judge for rubric items ("declines the $1 offer politely and offers a person").

Rubric items are for what the end state and phrase rules can't capture: tone, helpfulness, whether
an answer actually answered. Without a configured judge they are reported as *skipped*, visibly,
never as passed. The judge sees the transcript and the end state, and returns pass/fail + a reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import HumanMessage

from evals.llm_support import add_usage, fill, load_prompt, text_of
from evals.results import ExpectationResult, TurnRecord

NO_JUDGE = "no LLM judge configured (set OPENAI_API_KEY/OPENAI_BASE_URL, or --judge llm)"


def transcript_text(turns: list[TurnRecord]) -> str:
    lines = []
    for t in turns:
        lines.append(f"[{t.index}] CUSTOMER ({t.channel}): {t.customer}")
        if t.replies:
            for r in t.replies:
                lines.append(f"[{t.index}] ASSISTANT: {r}")
        else:
            lines.append(f"[{t.index}] ASSISTANT: (no reply{': ' + t.suppressed if t.suppressed else ''})")
    return "\n".join(lines)


@dataclass
class Judge:
    model: Any
    usage: dict[str, int] = field(default_factory=dict)

    @property
    def prompt_ref(self) -> str:
        return load_prompt("judge.md").ref

    async def grade(
        self, rubric: list[str], turns: list[TurnRecord], facts: dict[str, Any], dealer_name: str
    ) -> list[ExpectationResult]:
        prompt = load_prompt("judge.md")
        out = []
        transcript = transcript_text(turns)
        for i, item in enumerate(rubric):
            text = fill(
                prompt.text,
                {
                    "rubric": item,
                    "transcript": transcript,
                    "facts": json.dumps(facts, default=str, indent=1)[:6000],
                    "dealer_name": dealer_name,
                },
            )
            try:
                response = await self.model.ainvoke([HumanMessage(content=text)])
                add_usage(self.usage, response)
                verdict, reason = parse_verdict(text_of(response))
            except Exception as exc:  # the judge failing is not the brain failing
                out.append(skipped_rubric(i, item, f"judge error: {type(exc).__name__}: {exc}"[:300]))
                continue
            out.append(
                ExpectationResult(
                    id=f"expect.rubric[{i}]",
                    kind="rubric",
                    description=item,
                    status="passed" if verdict else "failed",
                    reason="" if verdict else f"judge: {reason}",
                )
            )
        return out


def parse_verdict(text: str) -> tuple[bool, str]:
    """{"verdict": "pass"|"fail", "reason": …} from the judge's answer (tolerates code fences)."""
    m = re.search(r"\{.*\}", text, re.DOTALL)
    if not m:
        raise ValueError(f"no JSON verdict in {text[:200]!r}")
    data = json.loads(m.group(0))
    verdict = str(data.get("verdict", "")).strip().lower()
    if verdict not in {"pass", "fail"}:
        raise ValueError(f"verdict must be pass or fail, got {verdict!r}")
    return verdict == "pass", str(data.get("reason", "")).strip()


def skipped_rubric(i: int, item: str, reason: str = NO_JUDGE) -> ExpectationResult:
    return ExpectationResult(id=f"expect.rubric[{i}]", kind="rubric", description=item, status="skipped", reason=reason)
