"""The Lua scripts of the Redis backend: each step that changes several keys runs atomically.

Every script reads the clock with ``TIME`` on the server, so lease deadlines do not depend on
the workers' clocks agreeing. Queue items are ``fingerprint (16 bytes) .. fields``
(``items.py``); leases and records are keyed by that fingerprint.

Keys (``{id}`` is the crawl id; the braces make them one Redis Cluster hash slot):

    crawl:{id}:config   STRING  the scope options the crawl was started with, and the layout's
                                ``format`` (JSON)
    crawl:{id}:s:XXXX   SET     the visited set: fingerprints ever scheduled, in 65,536 shards
                                (XXXX: their first 2 bytes, hex) of intsets (``items.py``)
    crawl:{id}:q:H      LIST    host H's items waiting, FIFO (RPUSH / LPOP); re-queued go first
    crawl:{id}:ready    ZSET    host -> when (ms) it may next start, for hosts with items waiting
                                and below their --per-host cap: POP takes from the earliest
    crawl:{id}:parked   SET     hosts with items waiting but --per-host pages in flight (or,
                                robots.txt obeyed, a first page out and no answer yet)
    crawl:{id}:opened   SET     hosts whose robots.txt answered (SET_DELAY) or that finished a
                                page: with robots.txt obeyed, the others have one page out
    crawl:{id}:inflight HASH    host -> pages leased and not recorded
    crawl:{id}:perhost  HASH    host -> pages queued ever (--max-pages-per-host)
    crawl:{id}:leases   ZSET    fingerprint -> lease deadline (ms, server clock)
    crawl:{id}:leased   HASH    fingerprint -> item, to re-queue a lease that expired
    crawl:{id}:leasehost HASH   fingerprint -> host of a leased item
    crawl:{id}:records  HASH    fingerprint -> record JSON (HSETNX: the first record wins)
    crawl:{id}:pages    HASH    fingerprint -> page state for re-crawls (JSON, ``pages.py``)
    crawl:{id}:stats    HASH    scheduled, recorded, requeued, queued, skipped counters
    crawl:{id}:busy     HASH    host -> fingerprint of its one page out (a host with a delay;
                                '?': one out before the delay was set): ENDED or ``complete``
                                clears it and books the next start from then
    crawl:{id}:next     HASH    host -> next free start (ms): a hand-out or an extra request
    crawl:{id}:last     HASH    host -> latest actual request start (ms)
    crawl:{id}:delays   HASH    host -> delay raised by Crawl-delay or the auto-throttle (s)
    crawl:{id}:floors   HASH    host -> its Crawl-delay (s): the auto-throttle stays above it
    crawl:{id}:slots:H  ZSET    token -> expiry (ms): requests to host H in flight (a clock
                                used on its own with a cap; the frontier caps pages itself)
    crawl:{id}:robots   HASH    origin -> robots.txt entry (JSON pair)
    crawl:{id}:robots-claim:O  STRING  the worker fetching origin O's robots.txt (expires)
"""

from __future__ import annotations

# Milliseconds since the epoch on the server.
_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# Per-host helpers shared by the scripts below. ``P`` is the crawl's key prefix (ARGV), so the
# per-host keys share the crawl's hash slot. A host is listed in ``ready`` when it has items
# waiting and is under its cap, scored by its next free start.
_HOSTS = """
local function host_delay(P, host, base_ms)
  local raised = tonumber(redis.call('HGET', P .. 'delays', host) or '0') * 1000
  if raised > base_ms then return raised end
  return base_ms
end
local function list_host(P, host)
  if redis.call('SISMEMBER', P .. 'parked', host) == 1 then return end
  if redis.call('LLEN', P .. 'q:' .. host) == 0 then return end
  local at = tonumber(redis.call('HGET', P .. 'next', host) or '0')
  redis.call('ZADD', P .. 'ready', at, host)
end
local function unbusy(P, host, fp, base_ms, now)
  -- The page ``fp`` of ``host`` ended (every request of it was sent before now): the host's
  -- next start is a delay from now, and it may be handed out again. ('?': a page handed out
  -- before its host had a delay, see SET_DELAY: the first of the host's pages to end.)
  local busy = redis.call('HGET', P .. 'busy', host)
  if busy ~= fp and busy ~= '?' then return 0 end
  redis.call('HDEL', P .. 'busy', host)
  local delay = host_delay(P, host, base_ms)
  if delay > 0 then
    if now > tonumber(redis.call('HGET', P .. 'last', host) or '0') then
      redis.call('HSET', P .. 'last', host, now)
    end
    if now + delay > tonumber(redis.call('HGET', P .. 'next', host) or '0') then
      redis.call('HSET', P .. 'next', host, now + delay)
      local listed = redis.call('ZSCORE', P .. 'ready', host)
      if listed and tonumber(listed) < now + delay then
        redis.call('ZADD', P .. 'ready', now + delay, host)
      end
    end
  end
  return 1
end
local function unlease(P, fp)
  local host = redis.call('HGET', P .. 'leasehost', fp)
  if not host then return nil end
  redis.call('HDEL', P .. 'leasehost', fp)
  if redis.call('HINCRBY', P .. 'inflight', host, -1) <= 0 then
    redis.call('HDEL', P .. 'inflight', host)
  end
  redis.call('SREM', P .. 'parked', host)
  return host
end
"""

# Store the record and end the lease in one step (freeing its host's slot). With release = '1'
# (a page interrupted by a hard stop, or leased and never started) no record is kept and the
# item goes back to the front of its host's queue, so a resumed crawl fetches it. Returns 1
# when this record is the URL's first. Safe to repeat (a reply lost to an outage).
_COMPLETE = """
local function complete(P, fp, record, release, base_ms)
  local item = redis.call('HGET', P .. 'leased', fp)
  redis.call('ZREM', P .. 'leases', fp)
  redis.call('HDEL', P .. 'leased', fp)
  local host = unlease(P, fp)
  if host then
    unbusy(P, host, fp, base_ms, now)
    if release ~= '1' then redis.call('SADD', P .. 'opened', host) end
  end
  if release == '1' then
    if item and host and redis.call('HEXISTS', P .. 'records', fp) == 0 then
      redis.call('LPUSH', P .. 'q:' .. host, item)
      redis.call('HINCRBY', P .. 'stats', 'queued', 1)
    end
  end
  if host and not redis.call('ZSCORE', P .. 'ready', host) then list_host(P, host) end
  if release == '1' then return 0 end
  local first = redis.call('HSETNX', P .. 'records', fp, record)
  if first == 1 then redis.call('HINCRBY', P .. 'stats', 'recorded', 1) end
  return first
end
"""

# ARGV: prefix, budget (-1: none), host budget (-1: none), then one argument per request:
# ``host \n seen member \n item`` (one argument, not three: packing arguments is most of a
# client's cost per call). The item's first two bytes name its seen-set shard.
# Claim and enqueue in one step: a URL is in the seen set only if it is also queued (or skipped
# beyond its host's budget), so a worker that dies between the two cannot lose it. Returns how
# many items were queued.
PUSH = (
    _HOSTS
    + """
local P = ARGV[1]
local budget = tonumber(ARGV[2])
local host_budget = tonumber(ARGV[3])
local scheduled = tonumber(redis.call('HGET', P .. 'stats', 'scheduled') or '0')
local added, skipped = 0, 0
for i = 4, #ARGV do
  if budget >= 0 and scheduled + added >= budget then break end
  local arg = ARGV[i]
  local a = string.find(arg, '\\n', 1, true)
  local b = string.find(arg, '\\n', a + 1, true)
  local host, item = string.sub(arg, 1, a - 1), string.sub(arg, b + 1)
  local shard = P .. 's:' .. string.format('%02x%02x', string.byte(item, 1, 2))
  if redis.call('SADD', shard, string.sub(arg, a + 1, b - 1)) == 1 then
    if host_budget >= 0 and redis.call('HINCRBY', P .. 'perhost', host, 1) > host_budget then
      skipped = skipped + 1
    else
      redis.call('RPUSH', P .. 'q:' .. host, item)
      if not redis.call('ZSCORE', P .. 'ready', host) then list_host(P, host) end
      added = added + 1
    end
  end
end
if added > 0 then
  redis.call('HINCRBY', P .. 'stats', 'scheduled', added)
  redis.call('HINCRBY', P .. 'stats', 'queued', added)
end
if skipped > 0 then redis.call('HINCRBY', P .. 'stats', 'skipped', skipped) end
return added
"""
)

# ARGV: prefix, lease_ms, cap (-1: none), delay_ms, count, robots (1: obeyed, a host's first
# page goes out alone until it is ``opened``), n, then n records this worker stored
# since its last call, each ``release (1 byte) .. fingerprint (16) .. record JSON``,
# ``complete``d in the same step; then page states, ``fingerprint .. JSON`` ('': delete).
# First re-queue leases whose deadline passed (their worker died or hung), then lease up to
# ``count`` items, each of the ready host (``next`` <= now) with the fewest pages in flight
# among the first few, booking the host's next start. Returns {0, 0, 0, item, busy, item, busy,
# ...} when it leased any (busy = 1: the item's host has a delay and this is its one page out,
# whose end must be told: ENDED); or {ms, queued, timed} when no host may start now: with
# timed = 1, ms is the time until the earliest host may; otherwise no host is listed (nothing
# queued, or every host with items at its cap or its one page out) and ms is the time to the
# earliest lease deadline, -1 when no lease is outstanding either (with nothing queued, the
# crawl is over). With count 0 it only completes.
# The records are completed last, after the reply is decided: a host slot they free goes to
# whichever worker asks next, not straight back to this one (with --per-host, a worker that
# freed and took in one step would starve the others).
POP = (
    _NOW
    + _HOSTS
    + _COMPLETE
    + """
local P = ARGV[1]
local lease_ms, cap, base_ms = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local count, robots = tonumber(ARGV[5]), ARGV[6] == '1'
local function alone(h)  -- robots.txt obeyed and not answered yet: its first page goes alone
  return robots and redis.call('SISMEMBER', P .. 'opened', h) == 0
end
local function reply(answer)
  local n = tonumber(ARGV[7])
  for i = 8, 7 + n do
    local arg = ARGV[i]
    complete(P, string.sub(arg, 2, 17), string.sub(arg, 18), string.sub(arg, 1, 1), base_ms)
  end
  for i = 8 + n, #ARGV do
    local fp, state = string.sub(ARGV[i], 1, 16), string.sub(ARGV[i], 17)
    if state == '' then
      redis.call('HDEL', P .. 'pages', fp)
    else
      redis.call('HSET', P .. 'pages', fp, state)
    end
  end
  return answer
end
if count <= 0 then return reply({0, 0, 0}) end
local taken = {0, 0, 0}
local expired = redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', now, 'LIMIT', 0, 100)
for _, fp in ipairs(expired) do
  local item = redis.call('HGET', P .. 'leased', fp)
  redis.call('ZREM', P .. 'leases', fp)
  redis.call('HDEL', P .. 'leased', fp)
  local host = unlease(P, fp)
  if host then unbusy(P, host, fp, base_ms, now) end
  if item and host and redis.call('HEXISTS', P .. 'records', fp) == 0 then
    redis.call('LPUSH', P .. 'q:' .. host, item)
    redis.call('HINCRBY', P .. 'stats', 'queued', 1)
    redis.call('HINCRBY', P .. 'stats', 'requeued', 1)
  end
  if host and not redis.call('ZSCORE', P .. 'ready', host) then list_host(P, host) end
end
while true do
  local hosts = redis.call('ZRANGEBYSCORE', P .. 'ready', '-inf', now, 'LIMIT', 0, 8)
  if #hosts == 0 then
    if #taken > 3 then return reply(taken) end
    local first = redis.call('ZRANGE', P .. 'ready', 0, 0, 'WITHSCORES')
    if #first > 0 then return reply({math.max(1, tonumber(first[2]) - now), 1, 1}) end
    local queued = math.max(0, tonumber(redis.call('HGET', P .. 'stats', 'queued') or '0'))
    local lease = redis.call('ZRANGE', P .. 'leases', 0, 0, 'WITHSCORES')
    if #lease == 0 then return reply({-1, queued, 0}) end
    return reply({math.max(0, tonumber(lease[2]) - now), queued, 0})
  end
  local host, fewest = nil, nil
  for _, h in ipairs(hosts) do
    local n = tonumber(redis.call('HGET', P .. 'inflight', h) or '0')
    local at = tonumber(redis.call('HGET', P .. 'next', h) or '0')
    -- Listed by a push while at its cap, or while its one page (it has a delay, or its
    -- robots.txt has not answered yet) is out.
    if (cap >= 0 and n >= cap) or redis.call('HEXISTS', P .. 'busy', h) == 1
        or (n > 0 and alone(h)) then
      redis.call('ZREM', P .. 'ready', h)
      redis.call('SADD', P .. 'parked', h)
    elseif at > now then  -- its next start moved on since it was listed
      redis.call('ZADD', P .. 'ready', at, h)
    elseif fewest == nil or n < fewest then
      host, fewest = h, n
    end
  end
  local item = nil
  if host then item = redis.call('LPOP', P .. 'q:' .. host) end
  if not host then
    -- every candidate was parked: look again
  elseif not item then
    redis.call('ZREM', P .. 'ready', host)
  else
    redis.call('HINCRBY', P .. 'stats', 'queued', -1)
    local fp = string.sub(item, 1, 16)
    -- A re-queued item whose first worker finished after all, or one leased again meanwhile.
    local known = redis.call('HEXISTS', P .. 'records', fp) == 1
    if not known and not redis.call('ZSCORE', P .. 'leases', fp) then
      redis.call('ZADD', P .. 'leases', now + lease_ms, fp)
      redis.call('HSET', P .. 'leased', fp, item)
      redis.call('HSET', P .. 'leasehost', fp, host)
      local flying = redis.call('HINCRBY', P .. 'inflight', host, 1)
      local delay = host_delay(P, host, base_ms)
      if delay > 0 then
        local nxt = math.max(now, tonumber(redis.call('HGET', P .. 'next', host) or '0'))
        redis.call('HSET', P .. 'next', host, nxt + delay)
        redis.call('HSET', P .. 'busy', host, fp)
      end
      redis.call('ZREM', P .. 'ready', host)
      if (cap >= 0 and flying >= cap) or delay > 0 or alone(host) then
        -- With a delay, one page at a time: ENDED lists the host again, a delay after it
        -- (before robots.txt answered: SET_DELAY or the page's record does).
        if redis.call('LLEN', P .. 'q:' .. host) > 0 then
          redis.call('SADD', P .. 'parked', host)
        end
      elseif redis.call('LLEN', P .. 'q:' .. host) > 0 then
        -- No delay: scored by this hand-out, so hosts take turns.
        redis.call('ZADD', P .. 'ready', now, host)
      end
      taken[#taken + 1] = item
      taken[#taken + 1] = delay > 0 and 1 or 0
      if (#taken - 3) / 2 >= count then return reply(taken) end
    end
    if redis.call('LLEN', P .. 'q:' .. host) == 0 then redis.call('ZREM', P .. 'ready', host) end
  end
end
"""
)

# KEYS: leases. ARGV: lease_ms, fingerprint...  The heartbeat: push back the deadline of the
# leases this worker still holds (only those that still exist).
RENEW = (
    _NOW
    + """
local renewed = 0
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i])
    renewed = renewed + 1
  end
end
return renewed
"""
)

# ARGV: prefix, fingerprint, record JSON, release, delay_ms (the crawl's --delay). One
# ``complete``; a page whose end was not told yet (ENDED) ends here.
COMPLETE = (
    _NOW
    + _HOSTS
    + _COMPLETE
    + "return complete(ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5] or '0'))\n"
)

# ARGV: prefix, host, fingerprint, delay_ms, ago_ms.  The page POP handed out as its host's one
# page out (a host with a delay) ended ago_ms before now (by the worker's clock; its network half
# ended then, and it was told later, after parsing or with its batch): every request of it was
# sent before then, so the host's next start is a delay from then, however late each request
# left; list the host again. Told by the worker as soon as the page is done, not when its record
# is stored (COMPLETE may come later, and ends the page itself when it comes first). Returns 1,
# or 0 when the page had ended already.
ENDED = (
    _NOW
    + _HOSTS
    + """
local P, host, fp = ARGV[1], ARGV[2], ARGV[3]
local ended = now - tonumber(ARGV[5] or '0')
if unbusy(P, host, fp, tonumber(ARGV[4]), ended) == 0 then return 0 end
redis.call('SADD', P .. 'opened', host)
redis.call('SREM', P .. 'parked', host)
if not redis.call('ZSCORE', P .. 'ready', host) then list_host(P, host) end
return 1
"""
)

# ARGV: prefix, host, token, cap (-1: none), delay_ms, hold_ms, granted (1/0), ended_ms_ago
# (-1: none; when this worker's previous request to ``host`` ended, by its own clock).
# Book one request start on ``host``. Granted (the first request of a page POP handed out,
# whose start POP booked): keep the delay from the host's latest actual start. Otherwise
# (robots.txt, a retry): take the host's next free start, pushing its next hand-out back; a
# request that ended counts as the latest start (it was sent before it ended).
# With a cap, also take one of ``host``'s ``cap`` slots (a dead worker's expire after
# ``hold_ms``). Returns the ms to wait before starting, or -1 when every slot is taken.
ACQUIRE_HOST = (
    _NOW
    + _HOSTS
    + """
local P, host = ARGV[1], ARGV[2]
local cap = tonumber(ARGV[4])
local slots = P .. 'slots:' .. host
if cap >= 0 then
  redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
  if redis.call('ZCARD', slots) >= cap then return -1 end
end
local delay = host_delay(P, host, tonumber(ARGV[5]))
local start = now
if delay > 0 then
  local last = tonumber(redis.call('HGET', P .. 'last', host) or '-1e18')
  local nxt = tonumber(redis.call('HGET', P .. 'next', host) or '0')
  local ago = tonumber(ARGV[8] or '-1')
  if ago >= 0 and now - ago > last then last = now - ago end
  if ARGV[7] == '1' then
    start = math.max(now, last + delay)
    nxt = math.max(nxt, start + delay)
  else
    start = math.max(now, nxt, last + delay)
    nxt = start + delay
  end
  redis.call('HSET', P .. 'last', host, start)
  redis.call('HSET', P .. 'next', host, nxt)
  local listed = redis.call('ZSCORE', P .. 'ready', host)
  if listed and tonumber(listed) < nxt then redis.call('ZADD', P .. 'ready', nxt, host) end
end
if cap >= 0 then
  redis.call('ZADD', slots, start + tonumber(ARGV[6]), ARGV[3])
end
return start - now
"""
)

# ARGV: prefix, host, until_ms_from_now.  Retry-After for a whole host: it starts nothing
# before then.
DEFER_HOST = (
    _NOW
    + """
local P, host = ARGV[1], ARGV[2]
local until_ms = now + tonumber(ARGV[3])
local nxt = tonumber(redis.call('HGET', P .. 'next', host) or '0')
if until_ms > nxt then
  redis.call('HSET', P .. 'next', host, until_ms)
  local listed = redis.call('ZSCORE', P .. 'ready', host)
  if listed then redis.call('ZADD', P .. 'ready', until_ms, host) end
end
return 0
"""
)

# ARGV: prefix, host, seconds (already capped).  A robots.txt Crawl-delay: raise the host's
# delay (and its floor, for the auto-throttle); robots.txt was just answered, so its request
# counts as the host's latest start. Returns the delay in force (s, as a string).
SET_DELAY = (
    _NOW
    + """
local P, host, seconds = ARGV[1], ARGV[2], tonumber(ARGV[3])
-- robots.txt answered: more than the host's first page may go out (POP parks it until then).
redis.call('SADD', P .. 'opened', host)
if redis.call('SREM', P .. 'parked', host) == 1 and redis.call('LLEN', P .. 'q:' .. host) > 0 then
  local at = tonumber(redis.call('HGET', P .. 'next', host) or '0')
  redis.call('ZADD', P .. 'ready', at, host)
end
redis.call('HSET', P .. 'floors', host, ARGV[3])
local current = tonumber(redis.call('HGET', P .. 'delays', host) or '0')
if seconds <= current then return tostring(current) end
redis.call('HSET', P .. 'delays', host, ARGV[3])
if tonumber(redis.call('HGET', P .. 'inflight', host) or '0') > 0
    and redis.call('HEXISTS', P .. 'busy', host) == 0 then
  -- A page handed out before the delay (the one whose robots.txt set it): the host now has it
  -- as its one page out, until that page ends.
  redis.call('HSET', P .. 'busy', host, '?')
end
local last = tonumber(redis.call('HGET', P .. 'last', host) or '0')
if now > last then redis.call('HSET', P .. 'last', host, now) end
local nxt = now + seconds * 1000
if nxt > tonumber(redis.call('HGET', P .. 'next', host) or '0') then
  redis.call('HSET', P .. 'next', host, nxt)
  if redis.call('ZSCORE', P .. 'ready', host) then redis.call('ZADD', P .. 'ready', nxt, host) end
end
return ARGV[3]
"""
)
