"""`dealeros staff …`: create and list staff logins from the command line.

The composition root owns the environment, so this module never reads it: `make_app(open_runtime)`
takes a callable returning an object with `.redis` (an asyncio Redis client), `.keys` and
`.redis_handle` (closed afterwards) — `server.Runtime.open(Settings(), models=False)` fits. The
module-level `app` takes that callable from the Typer context object instead (`ctx.obj`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any, cast

import typer

from channels.staff.auth import ROLES, AccountExists, Role, StaffAccount, StaffStore


async def staff_add_cli(
    redis: Any,
    keys: Any,
    *,
    id: str,
    name: str,
    role: Role,
    team: str,
    password: str,
    email: str | None = None,
    created_by: str = "cli",
) -> StaffAccount:
    """Create a staff login (Argon2id-hashed password). Raises AccountExists or ValueError."""
    return await StaffStore(redis, keys).add(
        id=id,
        name=name,
        role=role,
        team=team,
        password=password,
        email=email,
        created_by=created_by,
    )


async def _close(rt: Any) -> None:
    handle = getattr(rt, "redis_handle", None)
    if handle is not None:
        await handle.aclose()


def _run(rt: Any, coro_fn: Callable[[Any], Any]) -> Any:
    async def go() -> Any:
        try:
            return await coro_fn(rt)
        finally:
            await _close(rt)

    try:
        return asyncio.run(go())
    finally:
        handle = getattr(rt, "redis_handle", None)
        if handle is not None:
            handle.shutdown()


def make_app(open_runtime: Callable[[], Any] | None = None) -> typer.Typer:
    cli = typer.Typer(help="Staff logins for the console and the Staff API.", no_args_is_help=True)

    def opener(ctx: typer.Context) -> Callable[[], Any]:
        found = open_runtime or (ctx.find_root().obj if callable(ctx.find_root().obj) else None)
        if found is None:
            raise typer.BadParameter("the staff CLI is not wired to a runtime (see channels/staff/cli.py)")
        return found

    @cli.command("add")
    def add(
        ctx: typer.Context,
        id: Annotated[
            str,
            typer.Option(
                "--id", help="Login id, e.g. maria-delgado (matches the dealer config's staff id for routing)."
            ),
        ],
        name: Annotated[str, typer.Option(help="Full name shown to colleagues.")],
        role: Annotated[str, typer.Option(help="agent | manager | admin")] = "agent",
        team: Annotated[str, typer.Option(help="Team, e.g. bdc, sales, service, finance.")] = "bdc",
        email: Annotated[str | None, typer.Option(help="Work email (optional).")] = None,
        password: Annotated[
            str | None, typer.Option(help="Password (prompted, hidden, when omitted).", show_default=False)
        ] = None,
    ) -> None:
        """Create a staff login. Passwords are stored as Argon2id hashes only."""
        if role not in ROLES:
            raise typer.BadParameter(f"role must be one of {', '.join(ROLES)}", param_hint="--role")
        if password is None:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        rt = opener(ctx)()
        try:
            account = _run(
                rt,
                lambda r: staff_add_cli(
                    r.redis,
                    r.keys,
                    id=id,
                    name=name,
                    role=cast(Role, role),
                    team=team,
                    password=password or "",
                    email=email,
                ),
            )
        except AccountExists as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"created {account.role} {account.id} ({account.name}, team {account.team})")

    @cli.command("list")
    def list_(ctx: typer.Context) -> None:
        """List staff logins (never their password hashes)."""
        rt = opener(ctx)()
        accounts = _run(rt, lambda r: StaffStore(r.redis, r.keys).list())
        for a in accounts:
            typer.echo(f"{a.id}\t{a.role}\t{a.team}\t{a.name}" + ("\t(disabled)" if a.disabled else ""))

    return cli


app = make_app()
