"""The offline brain (no network): intents, entities, dialogue slots and rules over the domain tools."""

from agent.offline.brain import OfflineBrain

__all__ = ["OfflineBrain"]
