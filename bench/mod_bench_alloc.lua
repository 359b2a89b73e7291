-- Bench only: how much Lua heap a request allocates, driven over HTTP.
--   POST /bench_alloc/start   full collection, then the collector stops
--   POST /bench_alloc/stop    the collector restarts; answers JSON { kb } (heap growth)
-- With the collector stopped nothing is freed, so the heap's growth between the
-- two calls is what the requests in between allocated (the two calls' own few
-- hundred bytes are noise against thousands of pushes).
local json = require "util.json";

local started_at;

module:depends("http");
module:provides("http", {
	name = "bench_alloc";
	route = {
		["POST /start"] = function()
			collectgarbage("collect");
			collectgarbage("stop");
			started_at = collectgarbage("count");
			return 200;
		end;
		["POST /stop"] = function(event)
			local grown = started_at and collectgarbage("count") - started_at;
			started_at = nil;
			collectgarbage("restart");
			event.response.headers.content_type = "application/json";
			return json.encode({ kb = grown });
		end;
	};
});

-- Never leave the server without a collector.
module:hook_global("server-stopping", function() collectgarbage("restart"); end);
