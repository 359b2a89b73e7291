-- Bench only: a sampling profiler for Lua code in Prosody, driven over HTTP.
--   POST /bench_profile/start   clear the counters and start sampling
--   POST /bench_profile/stop    stop; answers JSON { samples, self = {...}, total = {...} }
--   POST /bench_profile/gc      full collection; answers JSON { before, after } (heap KB)
-- A count hook fires every `interval` VM instructions and records the function
-- running (self) and every function on the stack (total), as "source:line name".
-- Time spent inside C functions (string.gsub, crypto, socket calls) executes no
-- VM instructions, so it is charged to the Lua caller's next instructions only:
-- read it next to a perf profile of the process for the C side.
local json = require "util.json";

local interval = 1000;
local max_depth = 40;
local self_counts, total_counts, samples = {}, {}, 0;
local running = false;

local getinfo, sethook = debug.getinfo, debug.sethook;

local function frame_name(info)
	return ("%s:%d %s"):format(info.short_src, info.linedefined, info.name or "?");
end

local function sample()
	samples = samples + 1;
	local seen = {};
	for level = 2, max_depth do
		local info = getinfo(level, "Sn");
		if not info then break; end
		local name = frame_name(info);
		if level == 2 then
			self_counts[name] = (self_counts[name] or 0) + 1;
		end
		if not seen[name] then
			seen[name] = true;
			total_counts[name] = (total_counts[name] or 0) + 1;
		end
	end
end

-- Hooks are per coroutine: set it on the main thread and on every coroutine
-- created while sampling (Prosody runs handlers in util.async runners).
local threads = setmetatable({}, { __mode = "k" });
-- The main thread (network loop, HTTP parsing, timers). Modules may load inside
-- a runner, so it is found from a timer callback, which the loop runs on it.
local main_thread;
require "net.server".add_task(0, function()
	local co, is_main = coroutine.running();
	if is_main then main_thread = co; end
end);
local original_create = coroutine.create;

local function hook_thread(co)
	threads[co] = true;
	if running then sethook(co, sample, "", interval); end
	return co;
end

-- luacheck: push ignore 122 (replacing coroutine.create/wrap is the point)
function coroutine.create(f)
	return hook_thread(original_create(f));
end

function coroutine.wrap(f)
	local co = hook_thread(original_create(f));
	return function(...)
		local result = table.pack(coroutine.resume(co, ...));
		if not result[1] then error(result[2], 0); end
		return table.unpack(result, 2, result.n);
	end
end
-- luacheck: pop

local function set_all(on)
	running = on;
	for co in pairs(threads) do
		if coroutine.status(co) ~= "dead" then
			if on then sethook(co, sample, "", interval); else sethook(co); end
		end
	end
	if main_thread then
		if on then sethook(main_thread, sample, "", interval); else sethook(main_thread); end
	end
end

local function top(counts, n)
	local list = {};
	for name, count in pairs(counts) do list[#list + 1] = { name = name, samples = count }; end
	table.sort(list, function(a, b) return a.samples > b.samples; end);
	local out = {};
	for i = 1, math.min(n, #list) do out[i] = list[i]; end
	return out;
end

module:depends("http");
module:provides("http", {
	name = "bench_profile";
	route = {
		["POST /start"] = function()
			self_counts, total_counts, samples = {}, {}, 0;
			set_all(true);
			return 200;
		end;
		-- The Lua heap before and after a full collection, KB.
		["POST /gc"] = function(event)
			local before = collectgarbage("count");
			collectgarbage("collect");
			event.response.headers.content_type = "application/json";
			return json.encode({ before = before; after = collectgarbage("count") });
		end;
		["POST /stop"] = function(event)
			set_all(false);
			event.response.headers.content_type = "application/json";
			return json.encode({
				samples = samples;
				interval = interval;
				self = top(self_counts, 40);
				total = top(total_counts, 60);
			});
		end;
	};
});

module:hook_global("server-stopping", function() set_all(false); end);
