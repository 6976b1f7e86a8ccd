"""The boards in the cache port: their keys, and the Lua scripts that change them, each change
one script (atomic on Redis and on the in-process cache alike).

Per stored board (``lb:pet_level``, ``lb:user_points``, ``lb:weekly_interactions:<YYYY-Www>``):

- the sorted set itself: member :func:`~mengchong_plugins.leaderboard.scoring.member`
  (``<inverted reach time>|<id>``), score the primary score;
- ``<board>:members``, a hash id -> its current member, so a new score replaces the old member;
- ``<board>:at`` (pet_level, user_points), a hash id -> the ``occurred_at`` (epoch µs) of the last
  event applied: an event older than that is ignored, a redelivered one changes nothing;
- ``<board>:counted`` (weekly), the set of event ids already counted that week.

``lb:banned`` holds the banned users' ids: every script refuses to write a user in it, so an
event read before a ban committed can't put the user back after the ban removed them.

A rebuild (:mod:`mengchong_plugins.leaderboard.rebuild`) fills ``<board>:next*`` and renames it
over the board. While it runs (``<board>:rebuilding`` holds its cut-off, epoch ms) every event is
written into both, in the same script, so nothing applied meanwhile is lost by the rename.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio.client import Pipeline
from redis.commands.core import AsyncScript

from mengchong.storage.cache import Cache
from mengchong.storage.row_versions import ROW_VERSION_LUA
from mengchong_plugins.leaderboard import scoring

PREFIX = "lb"
STORED_BOARDS = ("pet_level", "user_points", "weekly_interactions")


@dataclass(frozen=True)
class BoardKeys:
    """The keys of one stored board (a weekly board: of one week)."""

    board: str

    @property
    def members(self) -> str:
        return f"{self.board}:members"

    @property
    def at(self) -> str:
        return f"{self.board}:at"

    @property
    def counted(self) -> str:
        return f"{self.board}:counted"

    @property
    def rebuilding(self) -> str:
        return f"{self.board}:rebuilding"

    @property
    def next(self) -> BoardKeys:
        return BoardKeys(f"{self.board}:next")


def board_keys(cache: Cache, board_type: str, week: str | None = None) -> BoardKeys:
    """The keys of a stored board; ``week`` (``YYYY-Www``) for ``weekly_interactions``."""
    if board_type not in STORED_BOARDS:
        raise ValueError(f"{board_type!r} is not a stored board")
    if (board_type == "weekly_interactions") != (week is not None):
        raise ValueError("a week is given for weekly_interactions, and only for it")
    parts = (PREFIX, board_type, week) if week is not None else (PREFIX, board_type)
    return BoardKeys(cache.key(*parts))


def banned_key(cache: Cache) -> str:
    return cache.key(PREFIX, "banned")


# --- The scripts -----------------------------------------------------------------------------

# Set an entry's score. KEYS: board, members, at, banned, rebuilding, next board, next members,
# next at. ARGV: id, user id, score, member, event µs, "1" to mirror into next while rebuilding.
_SET = """
if redis.call('SISMEMBER', KEYS[4], ARGV[2]) == 1 then return 0 end
local function apply(board, members, at)
  local last = redis.call('HGET', at, ARGV[1])
  if last and tonumber(last) > tonumber(ARGV[5]) then return 0 end
  redis.call('HSET', at, ARGV[1], ARGV[5])
  local old = redis.call('HGET', members, ARGV[1])
  if old then
    local score = redis.call('ZSCORE', board, old)
    if score and tonumber(score) == tonumber(ARGV[3]) then return 0 end
    redis.call('ZREM', board, old)
  end
  redis.call('ZADD', board, ARGV[3], ARGV[4])
  redis.call('HSET', members, ARGV[1], ARGV[4])
  return 1
end
local changed = apply(KEYS[1], KEYS[2], KEYS[3])
if ARGV[6] == '1' and redis.call('EXISTS', KEYS[5]) == 1 then apply(KEYS[6], KEYS[7], KEYS[8]) end
return changed
"""

# Add n to a count; the member keeps the later of the two reach times (the smaller prefix).
_BUMP = """
local function bump(board, members, id, member, n)
  local old = redis.call('HGET', members, id)
  local count = n
  if old then
    count = count + tonumber(redis.call('ZSCORE', board, old) or '0')
    redis.call('ZREM', board, old)
    if old < member then member = old end
  end
  redis.call('ZADD', board, count, member)
  redis.call('HSET', members, id, member)
end
"""

# Count one interaction, once per event id. KEYS: board, members, counted, banned, rebuilding,
# next board, next members. ARGV: event id, user id, member, ttl seconds, event ms.
_COUNT = (
    _BUMP
    + """
if redis.call('SISMEMBER', KEYS[4], ARGV[2]) == 1 then return 0 end
if redis.call('SADD', KEYS[3], ARGV[1]) == 0 then return 0 end
bump(KEYS[1], KEYS[2], ARGV[2], ARGV[3], 1)
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[4]) end
local cutoff = redis.call('GET', KEYS[5])
if cutoff and tonumber(ARGV[5]) > tonumber(cutoff) then bump(KEYS[6], KEYS[7], ARGV[2], ARGV[3], 1) end
return 1
"""
)

# A rebuild's counts into the next board. KEYS: next board, next members. ARGV: id, member, n.
_ADD = _BUMP + "bump(KEYS[1], KEYS[2], ARGV[1], ARGV[2], tonumber(ARGV[3]))\nreturn 1\n"

# Take entries off a board and off the one being rebuilt. KEYS: board, members, at, next board,
# next members, next at. ARGV: ids.
_REMOVE = """
for _, id in ipairs(ARGV) do
  for i = 0, 3, 3 do
    local old = redis.call('HGET', KEYS[i + 2], id)
    if old then redis.call('ZREM', KEYS[i + 1], old) end
    redis.call('HDEL', KEYS[i + 2], id)
    redis.call('HDEL', KEYS[i + 3], id)
  end
end
return 1
"""

# Put the rebuilt board in place. KEYS: board, members, at, next board, next members, next at,
# rebuilding. ARGV: ttl seconds (0: none).
_SWAP = """
for i = 1, 3 do
  if redis.call('EXISTS', KEYS[i + 3]) == 1 then
    redis.call('RENAME', KEYS[i + 3], KEYS[i])
    if tonumber(ARGV[1]) > 0 then redis.call('EXPIRE', KEYS[i], ARGV[1]) end
  else
    redis.call('DEL', KEYS[i])
  end
end
redis.call('DEL', KEYS[7])
return 1
"""

# The best-ranked of the ids ARGV[first..]: {rank, score, id}, or false when none is on the board.
_BEST_OF = """
local function best_of(first)
  local best, score, found
  for i = first, #ARGV do
    local member = redis.call('HGET', KEYS[2], ARGV[i])
    if member then
      local rank = redis.call('ZREVRANK', KEYS[1], member)
      if rank and (not best or rank < best) then
        best, score, found = rank, redis.call('ZSCORE', KEYS[1], member), ARGV[i]
      end
    end
  end
  if not best then return false end
  return {best, score, found}
end
"""

# The best-ranked of some entries. KEYS: board, members. ARGV: ids. {rank, score, id} or nil.
_BEST_RANK = _BEST_OF + "return best_of(1)"

# A page read in one call. KEYS: board, members, and on pet_level the row version of the
# reader's pet ids (display.OWNED). ARGV: first and last rank (0-based), the version the reader's
# ids were read under ('' if none), a candidate version, the users' row-version key prefix,
# whose user a line is ('id': the entry is a user; 'owner': the owner its member carries, a
# pet), then the reader's ids. {size of the board, the page's lines as {id, score, user id,
# that user's row version, ...} (user and version '' when a pet's member carries no owner),
# the best of the reader's ids or nil, the current version of them}. When that version is not
# the one the reader's ids were read under, they may be stale: no best, the reader asks again.
PAGE = (
    ROW_VERSION_LUA
    + _BEST_OF
    + """
local size = redis.call('ZCARD', KEYS[1])
local page = redis.call('ZREVRANGE', KEYS[1], ARGV[1], ARGV[2], 'WITHSCORES')
local lines = {}
for i = 1, #page, 2 do
  local id, owner = string.match(page[i], '^[^|]*|([^|]*)|?(.*)$')
  if ARGV[6] == 'id' then owner = id end
  local version = ''
  if owner ~= '' then version = row_version(ARGV[5] .. owner, ARGV[4] .. ':' .. i) end
  lines[#lines + 1] = id
  lines[#lines + 1] = page[i + 1]
  lines[#lines + 1] = owner
  lines[#lines + 1] = version
end
if KEYS[3] then
  local version = row_version(KEYS[3], ARGV[4])
  if version ~= ARGV[3] then return {size, lines, false, version} end
  return {size, lines, best_of(7), version}
end
return {size, lines, best_of(7), ''}
"""
)

# Each entry's member and score ('' and '0' when absent). KEYS: board, members. ARGV: ids.
_SCORES = """
local out = {}
for _, id in ipairs(ARGV) do
  local member = redis.call('HGET', KEYS[2], id)
  local score = member and redis.call('ZSCORE', KEYS[1], member)
  out[#out + 1] = member or ''
  out[#out + 1] = score or '0'
end
return out
"""


def _script(cache: Cache, text: str) -> AsyncScript:
    # register_script only hashes the text: no round trip, cheap enough per call.
    return cache.client.register_script(text)


Client = Pipeline | None


async def set_score(
    cache: Cache,
    keys: BoardKeys,
    entry_id: str,
    user_id: int,
    score: int,
    at: datetime | str,
    *,
    mirror: bool = True,
    client: Client = None,
) -> bool:
    """Set an entry's primary score from an event (or the data) of instant ``at``: nothing when
    the user is banned or a later event was applied; the entry keeps its member (the time it
    reached the score) when the score is unchanged. ``mirror``: also into the board being
    rebuilt, if one is. With a pipeline, the call is only queued (and its answer meaningless)."""
    owner = None if entry_id == str(user_id) else user_id  # a pet's member carries its owner
    member = scoring.member(scoring.epoch_ms(at), entry_id, owner)
    # The last applied event's time in microseconds: two events of one millisecond still order.
    args = [entry_id, user_id, score, member, scoring.epoch_us(at), "1" if mirror else "0"]
    key_list = [keys.board, keys.members, keys.at, banned_key(cache), keys.rebuilding]
    key_list += [keys.next.board, keys.next.members, keys.next.at]
    return bool(await _script(cache, _SET)(key_list, args, client=client))


async def count_interaction(
    cache: Cache, keys: BoardKeys, event_id: str, user_id: int, at: datetime | str, ttl_seconds: int
) -> bool:
    """Count one interaction of the user at instant ``at`` on a weekly board, once per
    ``event_id``; the board expires ``ttl_seconds`` from now. False when already counted or the
    user is banned."""
    at_ms = scoring.epoch_ms(at)
    key_list = [keys.board, keys.members, keys.counted, banned_key(cache), keys.rebuilding]
    key_list += [keys.next.board, keys.next.members]
    args = [event_id, user_id, scoring.member(at_ms, str(user_id)), max(1, ttl_seconds), at_ms]
    return bool(await _script(cache, _COUNT)(key_list, args))


async def add_counts(cache: Cache, keys: BoardKeys, counts: Sequence[tuple[str, str, int]]) -> None:
    """Add ``(id, member, n)`` counts to the board being rebuilt, in one pipeline."""
    pipe = cache.client.pipeline(transaction=False)
    for entry_id, encoded, count in counts:
        await _script(cache, _ADD)(
            [keys.next.board, keys.next.members], [entry_id, encoded, count], client=pipe
        )
    await pipe.execute()


async def remove(cache: Cache, keys: BoardKeys, entry_ids: Sequence[str], client: Client = None) -> None:
    """Take entries off the board (and off the one being rebuilt, if any); with a pipeline, the
    call is only queued."""
    if entry_ids:
        key_list = [keys.board, keys.members, keys.at, keys.next.board, keys.next.members, keys.next.at]
        await _script(cache, _REMOVE)(key_list, list(entry_ids), client=client)


async def swap(cache: Cache, keys: BoardKeys, ttl_seconds: int = 0) -> None:
    """Rename the rebuilt board over the board, and end the rebuild's mirroring."""
    key_list = [keys.board, keys.members, keys.at, keys.next.board, keys.next.members, keys.next.at]
    await _script(cache, _SWAP)([*key_list, keys.rebuilding], [ttl_seconds])


async def best_rank(cache: Cache, keys: BoardKeys, entry_ids: Sequence[str]) -> tuple[int, float, str] | None:
    """``(0-based rank, score, id)`` of the best-ranked of the entries; None when none is on
    the board."""
    if not entry_ids:
        return None
    return decode_best(await _script(cache, _BEST_RANK)([keys.board, keys.members], list(entry_ids)))


def decode_best(found: object) -> tuple[int, float, str] | None:
    """A :data:`_BEST_RANK` reply as ``(rank, score, id)``."""
    if not isinstance(found, list) or len(found) != 3:
        return None
    rank, score, entry_id = found
    return int(rank), float(score), entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


async def scores(cache: Cache, keys: BoardKeys, entry_ids: Sequence[str]) -> dict[str, tuple[str, float]]:
    """Each entry's ``(member, score)``; ``("", 0)`` for one that is not on the board."""
    if not entry_ids:
        return {}
    flat = await _script(cache, _SCORES)([keys.board, keys.members], list(entry_ids))
    pairs = zip(flat[::2], flat[1::2], strict=True)
    return {
        entry_id: (member.decode(), float(score))
        for entry_id, (member, score) in zip(entry_ids, pairs, strict=True)
    }
