-- clicks.lua: a wrk script that sends adclick click paths from a file.
--
--   wrk -t1 -c64 -d10s -s bench/wrk/clicks.lua http://127.0.0.1:8080
--   wrk -t2 -c64 -d10s -s bench/wrk/clicks.lua http://127.0.0.1:8080 -- 2
--
-- The file (env CLICKS_FILE, default "urls.txt" in the working directory)
-- holds one path per line, as `loadgen --emit-urls N --out FILE` writes them.
-- Each wrk thread sends the paths in file order from its own starting offset:
-- with T threads (the argument after `--`, or env CLICKS_THREADS; default 1)
-- thread k starts at k * lines / T, so the threads send disjoint paths until
-- one of them has sent lines / T requests. Past that point paths repeat, and a
-- repeated click is a duplicate for adclick (answered 302, not counted).
-- See bench/wrk/README.md.

local file = os.getenv("CLICKS_FILE") or "urls.txt"

local function read_paths()
  local paths = {}
  local f, err = io.open(file, "r")
  if not f then
    error("clicks.lua: cannot open " .. file .. " (" .. tostring(err) ..
          "); write it with loadgen --emit-urls N --out " .. file)
  end
  for line in f:lines() do
    if #line > 0 then paths[#paths + 1] = line end
  end
  f:close()
  if #paths == 0 then error("clicks.lua: no paths in " .. file) end
  return paths
end

-- Main state: number the threads as wrk creates them.
local next_id = 0

function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
end

-- Thread state: load the paths and pick the starting offset.
local paths, index, sent

function init(args)
  local threads = tonumber(args[1] or os.getenv("CLICKS_THREADS") or "1")
  if not threads or threads < 1 then error("clicks.lua: bad thread count " .. tostring(args[1])) end
  paths = read_paths()
  local id = thread_id or 0
  if id >= threads then
    io.stderr:write(string.format(
      "clicks.lua: warning: thread %d of %d declared threads; pass the thread count after -- " ..
      "(or set CLICKS_THREADS) so that the threads' paths do not overlap\n", id + 1, threads))
  end
  index = math.floor(id * #paths / threads) % #paths
  sent = 0
  -- Every request is formatted here, before the run: a string made per
  -- request is interned by LuaJIT in a table of millions of strings, whose
  -- rehashes stalled the thread (and so every connection) for 100-200 ms,
  -- and those stalls were most of the p99 measured.
  for i = 1, #paths do paths[i] = wrk.format("GET", paths[i]) end
  collectgarbage("collect")
end

function request()
  local req = paths[index + 1]
  index = (index + 1) % #paths
  sent = sent + 1
  return req
end

function done(summary, latency, requests)
  local n = #read_paths()
  if summary.requests > n then
    io.stderr:write(string.format(
      "clicks.lua: %d requests but only %d paths in %s: some clicks were sent more than once " ..
      "(duplicates); emit more paths for an all-fresh run\n", summary.requests, n, file))
  end
end
