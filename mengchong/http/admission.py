"""The rate limiter's admission script (:data:`ADMIT_LUA`) and what it answers
(:class:`Admission`): one Lua script on Redis that tests and counts a request's windows, reads
the caller's cached auth state and the row and document versions the request's copies are kept
under (:mod:`mengchong.storage.row_versions`, :mod:`mengchong.storage.kept_documents`), so an
authenticated request makes one round trip for all of it (:meth:`mengchong.http.ratelimit.Limiter.admit`).
"""

from __future__ import annotations

from dataclasses import dataclass

from mengchong.storage.row_versions import ROW_VERSION_LUA

# KEYS: the user's auth state ("": none to read), the user's row version ("": none), a
# document's stored version ("": none; mengchong.storage.kept_documents), then each window's
# previous and current key, the IP's windows first. ARGV: the token's version, how many windows
# are the IP's, a fresh row version to set if the row has none, then each window's limit and
# seconds. Returns {status, the state or "", refused, the row version or "", the document's
# version or ""}: status 0 refused (nothing counted; refused is a bit mask of the windows that
# refused, 1 for the first), 1 every window counted (and the versions read), 2 the state is
# missing (nothing counted: the caller decides and counts), 3 the state refuses the token (only
# the IP's windows counted).
ADMIT_LUA = (
    ROW_VERSION_LUA
    + """
local function weighted(previous, current, expiry)
    -- limits' sliding_window.lua: roll an expired current window over, then weigh; in ms
    local current_ttl = tonumber(redis.call('pttl', current))
    if current_ttl > 0 and current_ttl < expiry then
        redis.call('rename', current, previous)
        redis.call('set', current, 0, 'PX', current_ttl + expiry)
    end
    local previous_count = tonumber(redis.call('get', previous)) or 0
    local previous_ttl = math.max(tonumber(redis.call('pttl', previous)) or 0, 0)
    local current_count = tonumber(redis.call('get', current)) or 0
    return math.floor(previous_count * previous_ttl / expiry) + current_count
end

local function refused(first, last)
    local mask = 0
    for i = first, last do
        local limit = tonumber(ARGV[2 * i + 2])
        local expiry = tonumber(ARGV[2 * i + 3]) * 1000
        if limit < 1 or weighted(KEYS[2 * i + 2], KEYS[2 * i + 3], expiry) + 1 > limit then
            mask = mask + 2 ^ (i - 1)
        end
    end
    return mask
end

local function count(first, last)
    -- limits' acquire_sliding_window.lua once the window admits the hit
    for i = first, last do
        local current = KEYS[2 * i + 3]
        if redis.call('exists', current) == 1 then
            redis.call('incrby', current, 1)
        else
            redis.call('set', current, 1, 'PX', tonumber(ARGV[2 * i + 3]) * 2000)
        end
    end
end

local windows = (#KEYS - 3) / 2
local ip_windows = tonumber(ARGV[2])
local mask = refused(1, ip_windows)
if mask > 0 then
    return {0, '', mask, '', ''}
end
if KEYS[1] == '' then
    count(1, ip_windows)
    return {1, '', 0, '', ''}
end
local state = redis.call('get', KEYS[1])
if not state then
    return {2, '', 0, '', ''}
end
local ok, decoded = pcall(cjson.decode, state)
if not ok or decoded[1] ~= tonumber(ARGV[1]) or decoded[4] ~= false then
    count(1, ip_windows)
    return {3, state, 0, '', ''}
end
mask = refused(ip_windows + 1, windows)
if mask > 0 then
    return {0, state, mask, '', ''}
end
count(1, windows)
local row = ''
if KEYS[2] ~= '' then
    row = row_version(KEYS[2], ARGV[3])
end
local document = ''
if KEYS[3] ~= '' then
    document = redis.call('get', KEYS[3]) or ''
end
return {1, state, 0, row, document}
"""
)
REFUSED, COUNTED, STATE_MISSING, TOKEN_REFUSED = 0, 1, 2, 3


@dataclass(frozen=True)
class Admission:
    """What :meth:`Limiter.admit` found: the cached auth state (None on a miss) and whether
    the per-user limit is settled (counted, or none applies)."""

    state: bytes | None
    user_checked: bool
    row_version: str | None = None
    """The version of the user's row (:mod:`mengchong.storage.row_versions`) when it was asked
    for and the state was read in the same round trip."""
    doc_version: str | None = None
    """The stored version of the document asked for (:mod:`mengchong.storage.kept_documents`;
    ``""`` when none is stored) when it was read in the same round trip."""
