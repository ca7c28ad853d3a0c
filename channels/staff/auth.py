"""Staff accounts, logins and bearer tokens.

* Accounts live in one dealer-wide Redis hash (`dos:{d}:staff:accounts`, id -> JSON); passwords are
  hashed with Argon2id (argon2-cffi) and never stored or logged in clear.
* A login returns an opaque random token. Redis keeps only its SHA-256 (`dos:{d}:staff:session:<sha>`,
  with a TTL), so a copy of the database holds no usable token. The session names the staff id; the
  role is read from the account on every request, so a demotion or a disabled account applies at once.
* `DEALEROS_ADMIN_TOKEN` (passed in as a plain value) is a bearer token with the admin role: it
  bootstraps the first admin, who then creates staff (`POST /api/staff` or `dealeros staff add`).
* Roles are ordered agent < manager < admin. No/unknown token -> 401, a role too low -> 403.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import HTTPException, Request
from pydantic import BaseModel, Field, field_validator

from memory.keys import Keys

Role = Literal["agent", "manager", "admin"]
ROLES: tuple[Role, ...] = ("agent", "manager", "admin")
ROLE_RANK = {r: i for i, r in enumerate(ROLES)}
STAFF_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
MIN_PASSWORD = 10
SESSION_TTL_S = 12 * 3600
LOGIN_FAILURES_MAX = 10  # per staff id, per window: then 429 until the window passes
LOGIN_FAILURE_WINDOW_S = 15 * 60
ADMIN_TOKEN_ID = "admin"
# One failure more; the window starts at the first failure (Redis 6.2 has no EXPIRE NX).
_COUNT_FAILURE = """
local n = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""

_hasher = PasswordHasher()  # Argon2id, argon2-cffi's RFC 9106 "low memory" profile
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))  # verify against it for unknown ids (same timing)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


async def _hash(password: str) -> str:
    """Argon2 takes a good fraction of a second by design: off the event loop."""
    return await asyncio.to_thread(_hasher.hash, password)


def _verify_sync(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    if password.strip() != password or not password.strip():
        raise ValueError("a password can't start or end with spaces")


def valid_staff_id(value: str) -> str:
    value = value.strip().lower()
    if not STAFF_ID.match(value) or value == ADMIN_TOKEN_ID:
        raise ValueError("a staff id is 2-40 characters: lowercase letters, digits, '.', '_' or '-' (not 'admin')")
    return value


class StaffAccount(BaseModel):
    id: str
    name: str
    role: Role = "agent"
    team: str = "bdc"
    email: str | None = None
    phone: str | None = None
    password_hash: str = Field(default="", repr=False)
    created_at: dt.datetime
    created_by: str = "system"
    disabled: bool = False

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        return valid_staff_id(v)

    def to_api(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"password_hash"})


@dataclass(frozen=True)
class Principal:
    """Who is calling: a staff member by session, or the bootstrap admin token."""

    id: str
    name: str
    role: Role
    team: str = "bdc"
    via: Literal["session", "admin_token"] = "session"
    token_sha: str | None = None

    @property
    def actor(self) -> str:
        """The timeline/audit actor: `staff:<id>` (the admin token acts as `staff:admin`)."""
        return f"staff:{self.id}"

    def at_least(self, role: Role) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    def to_api(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "role": self.role, "team": self.team, "via": self.via}


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccountExists(ValueError):
    pass


class StaffStore:
    """Accounts and sessions of one dealer's staff."""

    def __init__(self, redis: Any, keys: Keys, *, session_ttl_s: int = SESSION_TTL_S, clock: Any = _utcnow) -> None:
        self.redis = redis
        self.keys = keys
        self.session_ttl_s = session_ttl_s
        self.clock = clock

    # --- keys ------------------------------------------------------------------------------------
    def _accounts(self) -> str:
        return self.keys.dealer_key("staff", "accounts")

    def _session(self, sha: str) -> str:
        return self.keys.dealer_key("staff", "session", sha)

    def _failures(self, staff_id: str) -> str:
        return self.keys.dealer_key("staff", "login-fail", staff_id)

    # --- accounts --------------------------------------------------------------------------------
    async def get(self, staff_id: str) -> StaffAccount | None:
        raw = await self.redis.hget(self._accounts(), staff_id.strip().lower())
        return StaffAccount.model_validate_json(raw) if raw else None

    async def list(self) -> list[StaffAccount]:
        rows = await self.redis.hvals(self._accounts())
        return sorted((StaffAccount.model_validate_json(r) for r in rows), key=lambda a: a.id)

    async def add(
        self,
        *,
        id: str,
        name: str,
        role: Role,
        team: str,
        password: str,
        email: str | None = None,
        phone: str | None = None,
        created_by: str = "system",
    ) -> StaffAccount:
        """Create an account; raises AccountExists, or ValueError for a bad id/password/role."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        check_password_policy(password)
        if not name.strip():
            raise ValueError("a staff member needs a name")
        account = StaffAccount(
            id=valid_staff_id(id),
            name=name.strip(),
            role=role,
            team=(team or "bdc").strip().lower(),
            email=email,
            phone=phone,
            password_hash=await _hash(password),
            created_at=self.clock(),
            created_by=created_by,
        )
        if not await self.redis.hsetnx(self._accounts(), account.id, account.model_dump_json()):
            raise AccountExists(f"staff {account.id!r} already exists")
        return account

    async def set_password(self, staff_id: str, password: str) -> None:
        check_password_policy(password)
        account = await self.get(staff_id)
        if account is None:
            raise KeyError(staff_id)
        account.password_hash = await _hash(password)
        await self.redis.hset(self._accounts(), account.id, account.model_dump_json())

    async def verify(self, staff_id: str, password: str) -> StaffAccount | None:
        """The account when the password matches (an unknown id costs the same time)."""
        account = await self.get(staff_id) if STAFF_ID.match(staff_id.strip().lower()) else None
        ok = await asyncio.to_thread(_verify_sync, account.password_hash if account else _DUMMY_HASH, password)
        if not ok or account is None or account.disabled:
            return None
        if _hasher.check_needs_rehash(account.password_hash):
            account.password_hash = await _hash(password)
            await self.redis.hset(self._accounts(), account.id, account.model_dump_json())
        return account

    # --- login throttling --------------------------------------------------------------------------
    async def login_blocked(self, staff_id: str) -> bool:
        raw = await self.redis.get(self._failures(staff_id.strip().lower()[:64]))
        return int(raw or 0) >= LOGIN_FAILURES_MAX

    async def login_failed(self, staff_id: str) -> None:
        key = self._failures(staff_id.strip().lower()[:64])
        await self.redis.eval(_COUNT_FAILURE, 1, key, LOGIN_FAILURE_WINDOW_S)

    # --- sessions ----------------------------------------------------------------------------------
    async def open_session(self, account: StaffAccount) -> tuple[str, dt.datetime]:
        token = secrets.token_urlsafe(32)
        now = self.clock()
        record = {"staff_id": account.id, "created_at": now.isoformat()}
        await self.redis.set(self._session(_sha(token)), json.dumps(record), ex=self.session_ttl_s)
        await self.redis.delete(self._failures(account.id))
        return token, now + dt.timedelta(seconds=self.session_ttl_s)

    async def close_session(self, token_sha: str) -> None:
        await self.redis.delete(self._session(token_sha))

    async def principal_for(self, token: str, admin_token: str | None) -> Principal | None:
        """The caller a bearer token names, or None."""
        if not token:
            return None
        if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
            return Principal(id=ADMIN_TOKEN_ID, name="Administrator (bootstrap token)", role="admin", via="admin_token")
        sha = _sha(token)
        raw = await self.redis.get(self._session(sha))
        if not raw:
            return None
        account = await self.get(json.loads(raw)["staff_id"])
        if account is None or account.disabled:
            await self.close_session(sha)
            return None
        return Principal(id=account.id, name=account.name, role=account.role, team=account.team, token_sha=sha)


def bearer_token(request: Any) -> str | None:
    header = request.headers.get("authorization") or ""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


class StaffAuth:
    """FastAPI dependencies: `auth.require("manager")` -> the Principal, or 401/403."""

    COOKIE = "dos_console"  # the console's page cookie (path /console only; the API takes bearer tokens)

    def __init__(self, store: StaffStore, admin_token: str | None) -> None:
        self.store = store
        self.admin_token = admin_token or None

    async def from_token(self, token: str | None) -> Principal | None:
        return await self.store.principal_for(token or "", self.admin_token)

    def require(self, role: Role = "agent") -> Any:
        async def dependency(request: Request) -> Principal:
            principal = await self.from_token(bearer_token(request))
            if principal is None:
                raise HTTPException(
                    status_code=401,
                    detail="a valid bearer token is required",
                    headers={"WWW-Authenticate": 'Bearer realm="dealeros-staff"'},
                )
            if not principal.at_least(role):
                raise HTTPException(status_code=403, detail=f"this needs the {role} role (you are {principal.role})")
            request.state.principal = principal
            return principal

        return dependency
