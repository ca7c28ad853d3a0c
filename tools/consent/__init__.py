"""Consent: recognising opt-outs, recording them, and the gate every outbound message passes.

Three jobs, one reason to change (messaging law):

* `classify_consent_message` — keywords (STOP, START, HELP…) and plain-language revocation
  ("stop texting me", "take me off your list"), which the FCC treats as a presumption of revocation.
* `record_opt_out` / `record_opt_in` — evidenced entries in the append-only ledger (memory/consent.py).
* `check_send` — may this message go out now? Consent, quiet hours in the recipient's local time,
  state rules and per-24 h caps, all read from `consent_rules.yaml`.

The package, one module per concern (import from `tools.consent`; the modules are its layout):

* `rules` — the rule book (tools/consent_rules.yaml) as validated models, and its loader;
* `normalise` — text normalisation (misspellings, shorthand) the classifier matches against;
* `classify` — the keyword and plain-language classifier;
* `geography` — the recipient's candidate time zones and states;
* `gate` — `ConsentGate` and its `Decision`: recording, quiet hours, caps, the one confirmation;
* `tools` — entry points for code holding ToolDeps, and the LangChain tools.
"""

from tools.consent.classify import ConsentIntent, classify_consent_message
from tools.consent.gate import OUTLOG_RETENTION, ConsentGate, Decision, SendPurpose
from tools.consent.geography import Recipient, locate_recipient
from tools.consent.rules import (
    RULES_PATH,
    WEEKDAYS,
    ChannelRule,
    ConfirmationRule,
    ConsentRules,
    FederalRule,
    Keywords,
    RevokeAllRule,
    StateRule,
    Window,
    load_consent_rules,
)
from tools.consent.tools import (
    CONSENT_TOOLS,
    check_contact_permission_tool,
    check_send,
    confirmation_allowed,
    record_opt_in,
    record_opt_out,
    record_opt_out_tool,
    record_send,
)

__all__ = [
    "CONSENT_TOOLS",
    "OUTLOG_RETENTION",
    "RULES_PATH",
    "WEEKDAYS",
    "ChannelRule",
    "ConfirmationRule",
    "ConsentGate",
    "ConsentIntent",
    "ConsentRules",
    "Decision",
    "FederalRule",
    "Keywords",
    "Recipient",
    "RevokeAllRule",
    "SendPurpose",
    "StateRule",
    "Window",
    "check_contact_permission_tool",
    "check_send",
    "classify_consent_message",
    "confirmation_allowed",
    "load_consent_rules",
    "locate_recipient",
    "record_opt_in",
    "record_opt_out",
    "record_opt_out_tool",
    "record_send",
]
