"""The Lua scripts of the Redis backend: each step that changes several keys runs atomically.

Every script reads the clock with ``TIME`` on the server, so lease deadlines do not depend on
the workers' clocks agreeing. Queue items are ``fingerprint (16 bytes) .. JSON``; leases and
records are keyed by that fingerprint.

Keys (``{id}`` is the crawl id; the braces make them one Redis Cluster hash slot):

    crawl:{id}:config   STRING  the scope options the crawl was started with (JSON)
    crawl:{id}:seen     SET     fingerprints ever scheduled (the visited set)
    crawl:{id}:queue    LIST    items waiting, FIFO (RPUSH / LPOP); re-queued leases go first
    crawl:{id}:leases   ZSET    fingerprint -> lease deadline (ms, server clock)
    crawl:{id}:leased   HASH    fingerprint -> item, to re-queue a lease that expired
    crawl:{id}:records  HASH    fingerprint -> record JSON (HSETNX: the first record wins)
    crawl:{id}:stats    HASH    scheduled, recorded, requeued counters
    crawl:{id}:next     HASH    host -> next time (ms) a request to it may start (--delay)
    crawl:{id}:delays   HASH    host -> delay raised by robots.txt Crawl-delay (s)
    crawl:{id}:slots:H  ZSET    token -> expiry (ms): requests to host H in flight (--per-host)
    crawl:{id}:robots   HASH    origin -> robots.txt entry (JSON pair)
    crawl:{id}:robots-claim:O  STRING  the worker fetching origin O's robots.txt (expires)
"""

from __future__ import annotations

# Milliseconds since the epoch on the server.
_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: seen, queue, stats. ARGV: budget (-1: none), item...
# Claim and enqueue in one step: a URL is in ``seen`` only if it is also queued, so a worker
# that dies between the two cannot lose it. Returns how many items were queued.
PUSH = """
local budget = tonumber(ARGV[1])
local scheduled = tonumber(redis.call('HGET', KEYS[3], 'scheduled') or '0')
local added = 0
for i = 2, #ARGV do
  if budget >= 0 and scheduled + added >= budget then break end
  local item = ARGV[i]
  if redis.call('SADD', KEYS[1], string.sub(item, 1, 16)) == 1 then
    redis.call('RPUSH', KEYS[2], item)
    added = added + 1
  end
end
if added > 0 then redis.call('HINCRBY', KEYS[3], 'scheduled', added) end
return added
"""

# KEYS: queue, leases, leased, records, stats. ARGV: lease_ms.
# First re-queue leases whose deadline passed (their worker died or hung), then lease the next
# item that has no record yet. Returns {item, 0}, or {'', ms} when nothing is queued: ms is the
# time to the earliest lease deadline, or -1 when no lease is outstanding (the crawl is over).
POP = (
    _NOW
    + """
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 100)
for _, fp in ipairs(expired) do
  local item = redis.call('HGET', KEYS[3], fp)
  redis.call('ZREM', KEYS[2], fp)
  redis.call('HDEL', KEYS[3], fp)
  if item and redis.call('HEXISTS', KEYS[4], fp) == 0 then
    redis.call('LPUSH', KEYS[1], item)
    redis.call('HINCRBY', KEYS[5], 'requeued', 1)
  end
end
while true do
  local item = redis.call('LPOP', KEYS[1])
  if not item then
    local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    if #first == 0 then return {'', -1} end
    return {'', math.max(0, tonumber(first[2]) - now)}
  end
  local fp = string.sub(item, 1, 16)
  -- A re-queued item whose first worker finished after all, or one leased again meanwhile.
  if redis.call('HEXISTS', KEYS[4], fp) == 0 and not redis.call('ZSCORE', KEYS[2], fp) then
    redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), fp)
    redis.call('HSET', KEYS[3], fp, item)
    return {item, 0}
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

# KEYS: records, leases, leased, stats, queue. ARGV: fingerprint, record JSON, release.
# Store the record and end the lease in one step. With release = 1 (a page interrupted by a
# hard stop) no record is kept and the item goes back to the front of the queue, so a resumed
# crawl fetches it. Returns 1 when this record is the URL's first, else 0.
COMPLETE = """
local fp = ARGV[1]
local item = redis.call('HGET', KEYS[3], fp)
redis.call('ZREM', KEYS[2], fp)
redis.call('HDEL', KEYS[3], fp)
if ARGV[3] == '1' then
  if item and redis.call('HEXISTS', KEYS[1], fp) == 0 then
    redis.call('LPUSH', KEYS[5], item)
  end
  return 0
end
local first = redis.call('HSETNX', KEYS[1], fp, ARGV[2])
if first == 1 then redis.call('HINCRBY', KEYS[4], 'recorded', 1) end
return first
"""

# KEYS: slots (ZSET token -> expiry), next (HASH host -> next start ms), delays (HASH host -> s).
# ARGV: host, token, cap (-1: none), delay_ms, hold_ms.
# Take one of ``host``'s ``cap`` concurrency slots (slots of a dead worker expire after
# ``hold_ms``) and book the host's next start time. Returns the ms to wait before starting,
# or -1 when every slot is taken (poll again).
ACQUIRE_HOST = (
    _NOW
    + """
local cap = tonumber(ARGV[3])
if cap >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  if redis.call('ZCARD', KEYS[1]) >= cap then return -1 end
end
local delay = tonumber(ARGV[4])
local raised = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0') * 1000
if raised > delay then delay = raised end
local start = now
if delay > 0 then
  start = math.max(now, tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0'))
  redis.call('HSET', KEYS[2], ARGV[1], start + delay)
end
if cap >= 0 then
  redis.call('ZADD', KEYS[1], start + tonumber(ARGV[5]), ARGV[2])
end
return start - now
"""
)
