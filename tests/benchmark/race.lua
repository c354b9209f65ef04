-- wrk script of `make bench`: 16 clients racing to book, five at a time on the same slot
-- (the service has five bays: "any bay"), slots one hour apart from a base time.
--   wrk -s race.lua URL -- <base epoch> <thread count> '<json fields>' '<authorization>' <run>
-- Thread t's n-th request books slot (n // 5) * threads + t, so each thread's connections race
-- for the same slot five times in a row; no slot is shared between threads.

local counter = 1
local threads = {}

function setup(thread)
   thread:set("id", counter)
   table.insert(threads, thread)
   counter = counter + 1
end

function init(args)
   base = tonumber(args[1])
   thread_count = tonumber(args[2])
   fields = args[3]
   authorization = args[4]
   run = args[5]  -- in the Idempotency-Keys: a key of an earlier run would replay its answer
   n = 0
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   if authorization and authorization ~= "" then
      wrk.headers["Authorization"] = authorization
   end
end

function request()
   local slot = math.floor(n / 5) * thread_count + (id - 1)
   local starts_at = os.date("!%Y-%m-%dT%H:%M:%SZ", base + slot * 3600)
   n = n + 1
   wrk.headers["Idempotency-Key"] = string.format("bench-%s-%d-%d-%d", run, base, id, n)
   local body = string.format('{%s"starts_at": "%s"}', fields, starts_at)
   return wrk.format(nil, nil, nil, body)
end
