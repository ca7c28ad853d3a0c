"""The atomic Lua scripts behind booking, rescheduling and closing an appointment.

Taking capacity, writing the appointment and indexing it by day is one script over keys that all
carry the dealer hash tag, so it is atomic on one server and legal on a Cluster; two customers
racing for the last place cannot both get it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tools.booking.model import Appointment, Slot
from tools.context import ToolDeps

USAGE_GRACE = 24 * 3600  # keep a slot's counter a day past its end, then let Redis drop it

# Shared: refuse an overlap with the customer's other active appointments; drop spans that are over.
_OVERLAP_LUA = """
local function overlap(spans_key, start, finish, now, self_id, same_span)
  local spans = redis.call('HGETALL', spans_key)
  for i = 1, #spans, 2 do
    local s, e = string.match(spans[i + 1], '^(%S+) (%S+)')
    s, e = tonumber(s), tonumber(e)
    if e <= now then
      redis.call('HDEL', spans_key, spans[i])
    elseif spans[i] ~= self_id and s < finish and start < e then
      if same_span ~= '' and spans[i + 1] == same_span then return {'dup', spans[i]} end
      return {'overlap', spans[i]}
    end
  end
  return nil
end
"""

# KEYS: usage, appointment, day index, customer spans, idempotency
# ARGV: capacity, json, id, start, end, span, usage ttl, idempotency ttl (0 = none), now
_BOOK_LUA = (
    _OVERLAP_LUA
    + """
if ARGV[8] ~= '0' then
  local prior = redis.call('GET', KEYS[5])
  if prior then return {'dup', prior} end
end
local clash = overlap(KEYS[4], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[9]), '', ARGV[6])
if clash then return clash end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= tonumber(ARGV[1]) then return {'full', tostring(used)} end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[7])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
redis.call('HSET', KEYS[4], ARGV[3], ARGV[6])
if ARGV[8] ~= '0' then redis.call('SET', KEYS[5], ARGV[3], 'EX', ARGV[8]) end
return {'ok', ARGV[3]}
"""
)

# KEYS: appointment, old usage, new usage, old day index, new day index, customer spans
# ARGV: expected json, new json, id, capacity, new start, new end, new span, new usage ttl, now
_RESCHEDULE_LUA = (
    _OVERLAP_LUA
    + """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'changed', ''} end
local clash = overlap(KEYS[6], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[9]), ARGV[3], '')
if clash then return clash end
if KEYS[2] ~= KEYS[3] then
  local used = tonumber(redis.call('GET', KEYS[3]) or '0')
  if used >= tonumber(ARGV[4]) then return {'full', tostring(used)} end
  redis.call('INCR', KEYS[3])
  redis.call('EXPIRE', KEYS[3], ARGV[8])
  if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[4], ARGV[3])
redis.call('ZADD', KEYS[5], ARGV[5], ARGV[3])
redis.call('HSET', KEYS[6], ARGV[3], ARGV[7])
return {'ok', ''}
"""
)

# KEYS: appointment, usage, customer spans.  ARGV: expected json, new json, id, release capacity (1/0)
_CLOSE_LUA = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'changed' end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[4] == '1' and tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
redis.call('HDEL', KEYS[3], ARGV[3])
return 'ok'
"""


async def _run(deps: ToolDeps, script: str, keys: list[str], args: list[Any]) -> Any:
    """EVALSHA with redis-py's fallback to EVAL, so the script body is not sent on every call."""
    return await deps.redis.register_script(script)(keys=keys, args=args)


def _usage_ttl(slot: Slot, now: dt.datetime) -> int:
    """Seconds a slot counter must live: relative to the turn's clock, like every rule here."""
    return max(60, int((slot.ends_at - now).total_seconds()) + USAGE_GRACE)


def _epoch(d: dt.datetime) -> int:
    return int(d.timestamp())


def _span(a: Appointment) -> str:
    return f"{_epoch(a.starts_at)} {_epoch(a.ends_at)} {a.department} {a.kind}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
