"""Domain operations and the explicit registry of the LangChain tools the LLM brain may call.

READ tools look things up; WRITE tools change state, are idempotent, and are used after the customer
confirms. Identity (dealer, customer, channel) is never a tool argument: it comes from the run config.
Handoffs are not here: the LLM brain binds its own `request_human_handoff`, which the graph turns
into `tools.handoff.open_handoff`, the same path the offline brain takes.
"""

from tools.booking import BOOKING_TOOLS
from tools.consent import CONSENT_TOOLS
from tools.crm import CRM_TOOLS
from tools.inventory import INVENTORY_TOOLS
from tools.knowledge import KNOWLEDGE_TOOLS

ALL_TOOLS = [*INVENTORY_TOOLS, *BOOKING_TOOLS, *KNOWLEDGE_TOOLS, *CRM_TOOLS, *CONSENT_TOOLS]

__all__ = ["ALL_TOOLS"]
