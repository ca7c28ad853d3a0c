"""One eval environment for the whole session: a real Redis (REDIS_URL when set, embedded otherwise),
Chroma with the bundled MiniLM model, and the demo dealership prepared once. Tests that touch it run
on the session's event loop (the async clients are bound to it)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from evals.env import EvalEnvironment


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def eval_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EvalEnvironment]:
    env = await EvalEnvironment.open(
        redis_url=os.environ.get("REDIS_URL") or None, cache_dir=tmp_path_factory.mktemp("eval-cache")
    )
    await env.template()  # the demo dealership, embedded once
    yield env
    await env.close()


@pytest.fixture
def suite_file(tmp_path: Path):
    """Write a suite YAML into a temp dir and return its path."""

    def write(text: str, name: str = "t.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
