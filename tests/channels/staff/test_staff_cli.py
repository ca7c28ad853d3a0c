"""`dealeros staff add` / `list` (the Typer app the composition root mounts), against real Redis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from typer.testing import CliRunner

from channels.staff.cli import app, make_app
from memory.keys import Keys


@dataclass
class FakeHandle:
    """What `Runtime.open(...)` offers the CLI: a client, and a handle to close it afterwards."""

    client: Any

    async def aclose(self) -> None:
        await self.client.aclose()

    def shutdown(self) -> None:
        pass


@pytest.fixture
def runtime(redis_handle, dealer_id):
    keys = Keys(dealer_id)
    sync = redis_handle.sync_client()

    def open_runtime() -> Any:
        client = redis_handle.client()
        return type("Rt", (), {"redis": client, "keys": keys, "redis_handle": FakeHandle(client)})()

    yield open_runtime, keys, sync
    for key in sync.scan_iter(match=keys.scan_pattern()):
        sync.delete(key)
    sync.close()


def test_staff_add_prompts_for_the_password_and_stores_only_its_hash(runtime):
    open_runtime, keys, sync = runtime
    cli = make_app(open_runtime)
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["add", "--id", "maria-delgado", "--name", "Maria Delgado", "--role", "manager", "--team", "sales"],
        input="a long password 1\na long password 1\n",
    )
    assert result.exit_code == 0, result.output
    assert "created manager maria-delgado" in result.output
    raw = sync.hget(keys.dealer_key("staff", "accounts"), "maria-delgado")
    assert "$argon2id$" in raw and "a long password 1" not in raw

    again = runner.invoke(cli, ["add", "--id", "maria-delgado", "--name", "M", "--password", "another long pw"])
    assert again.exit_code == 1 and "already exists" in again.output
    weak = runner.invoke(cli, ["add", "--id", "x-y", "--name", "X", "--password", "short"])
    assert weak.exit_code == 2 and "at least" in weak.output
    role = runner.invoke(cli, ["add", "--id", "x-y", "--name", "X", "--role", "boss", "--password", "long enough pw"])
    assert role.exit_code != 0

    listed = runner.invoke(cli, ["list"])
    assert listed.exit_code == 0 and "maria-delgado\tmanager\tsales\tMaria Delgado" in listed.output


def test_the_module_app_takes_its_runtime_from_the_context_object(runtime):
    open_runtime, keys, sync = runtime
    result = CliRunner().invoke(
        app, ["add", "--id", "kevin-tran", "--name", "Kevin Tran", "--password", "kevins long pw"], obj=open_runtime
    )
    assert result.exit_code == 0, result.output
    assert sync.hexists(keys.dealer_key("staff", "accounts"), "kevin-tran")
    unwired = CliRunner().invoke(app, ["list"])
    assert unwired.exit_code != 0
