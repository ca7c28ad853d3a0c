"""Prompt files of the eval harness itself (user simulator, judge), versioned like prompts/."""
