-- Bench only: the scale phase (bench/README.md, "Scale"). Writes users' records
-- straight into the module's stores, runs its hourly purge and reloads it, and
-- times every tick of the module's own timers meanwhile.
--   POST /bench_scale/fill?from=A&to=B&now=T  users A..B-1: two index entries each (for
--        every 10th user one expired at T), and for every 10th user a kept message (expired);
--        then empties the module's lists of users and its journal (as after an upgrade)
--   POST /bench_scale/timing                  starts timing the module's timer ticks afresh
--   GET  /bench_scale/timing                  JSON { ticks, longest_ms, longest_at, p99_ms, over_50_ms,
--        total_ms, active }
--   POST /bench_scale/purge                   runs the module's hourly task now; JSON { ms }
--   POST /bench_scale/reload                  reloads the module; JSON { ms }
--   GET  /bench_scale/heap                    JSON { kb } after a full collection
local json = require "util.json";
local st = require "util.stanza";
local monotonic = require "util.time".monotonic;
local hashes = require "util.hashes";
local hex = require "util.hex";

local TARGET = "unified_push";
local NS = "http://gultsch.de/xmpp/drafts/unified-push";
local host = module.host;
local api = getmetatable(module).__index;

local function modulemanager()
	local ok, mm = pcall(require, "core.modulemanager");
	if ok then return mm; end
	return require "prosody.core.modulemanager";
end

local function token_key(token) return hex.encode(hashes.sha256(token)):sub(1, 32); end

-- A user's two entries, as a registration writes them (paseto-sized tokens).
local function records(n, now)
	local user = ("u%06d@%s"):format(n, host);
	local record, keys = {}, {};
	for i, exp in ipairs({ n % 10 == 0 and now - 10 or now + 3600, now + 86400 }) do
		local token = ("v3.local.%06d-%d-"):format(n, i) .. ("x"):rep(160);
		local key = token_key(token);
		keys[i] = key;
		record[key] = {
			a = ("A"):rep(43) .. "=", i = ("I"):rep(42) .. i .. "=", e = exp, t = token,
			j = user .. "/Conversations.abcd",
		};
	end
	return user, record, keys;
end

local function sql_engine()
	local engines = module:shared("/*/sql/connections");
	local _, engine = next(engines);
	return engine;
end

local function fill(from, to, now)
	local users = module:open_store("unified_push_users");
	local kept = module:open_store("unified_push_kept");
	local messages = module:open_store("unified_push_messages", "archive");
	local engine = sql_engine();
	local insert = [[INSERT INTO "prosody" ("host","user","store","key","type","value") VALUES (?,?,?,?,?,?)]];
	local with_kept = {};
	local function write()
		for n = from, to - 1 do
			local user, record, keys = records(n, now);
			if engine then
				for key, entry in pairs(record) do
					engine:insert(insert, host, user, "unified_push_users", key, "json", json.encode(entry));
				end
			else
				assert(users:set(user, record));
			end
			if n % 10 == 5 then with_kept[#with_kept + 1] = { user, keys[2] }; end
		end
	end
	if engine then assert(engine:transaction(write)); else write(); end
	for _, pair in ipairs(with_kept) do
		local user, key = pair[1], pair[2];
		local message = st.stanza("kept", { xmlns = "urn:x-mod-unified-push:kept", user = user, bytes = "100",
			expires = tostring(now - 10) }):tag("push", { xmlns = NS, application = "A", instance = "I" }):text(("x"):rep(136));
		assert(messages:append(key, nil, message, now - 20));
		assert(kept:set(user, { [key] = { n = 1, b = 100 } }));
	end
	-- As after an upgrade from a module that kept no lists of users: the module
	-- filled its lists of nobody at load, and its journal may still hold them.
	for _, name in ipairs({ "unified_push_lists", "unified_push_journal" }) do
		local store = module:open_store(name);
		local keys = {};
		for key in store:users() do keys[#keys + 1] = key; end
		for _, key in ipairs(keys) do assert(store:set(key, nil)); end
	end
end

local timing;
local original_add_timer = api.add_timer;
function api.add_timer(self, delay, callback, ...)
	if not timing or self.name ~= TARGET or self.host ~= host then
		return original_add_timer(self, delay, callback, ...);
	end
	local t = timing;
	t.active = t.active + 1;
	return original_add_timer(self, delay, function(...)
		local started = monotonic();
		local again = callback(...);
		local took = monotonic() - started;
		t.ticks, t.total = t.ticks + 1, t.total + took;
		t.each[t.ticks] = took;
		if took > t.longest then t.longest, t.longest_at = took, t.ticks; end
		if type(again) ~= "number" then t.active = t.active - 1; end
		return again;
	end, ...);
end
module:hook_global("server-stopping", function() api.add_timer = original_add_timer; end);
function module.unload() api.add_timer = original_add_timer; end

local function as_json(event, value)
	event.response.headers.content_type = "application/json";
	return json.encode(value);
end

local function purge_task()
	local target = prosody.hosts[host].modules[TARGET];
	for _, task in ipairs(target.module:get_host_items("task")) do
		if task.id and task.id:sub(1, #TARGET + 1) == TARGET .. "/" then return task; end
	end
end

module:depends("http");
module:provides("http", {
	name = "bench_scale";
	route = {
		["POST /fill"] = function(event)
			local q = require "util.http".formdecode(event.request.url.query or "");
			local started = monotonic();
			fill(tonumber(q.from), tonumber(q.to), tonumber(q.now));
			return as_json(event, { ms = (monotonic() - started) * 1000 });
		end;
		["POST /timing"] = function()
			timing = { ticks = 0, longest = 0, longest_at = 0, total = 0, active = 0, each = {} };
			return 200;
		end;
		["GET /timing"] = function(event)
			local t = timing or { ticks = 0, longest = 0, longest_at = 0, total = 0, active = 0, each = {} };
			local sorted, over = {}, 0;
			for i, took in ipairs(t.each) do
				sorted[i] = took;
				if took > 0.05 then over = over + 1; end
			end
			table.sort(sorted);
			local p99 = sorted[math.max(1, math.ceil(#sorted * 0.99))] or 0;
			return as_json(event, { ticks = t.ticks, longest_ms = t.longest * 1000, longest_at = t.longest_at,
				p99_ms = p99 * 1000, over_50_ms = over, total_ms = t.total * 1000, active = t.active });
		end;
		["POST /purge"] = function(event)
			local task = assert(purge_task(), "no hourly task");
			local started = monotonic();
			task:run(os.time());
			return as_json(event, { ms = (monotonic() - started) * 1000 });
		end;
		["POST /reload"] = function(event)
			local started = monotonic();
			assert(modulemanager().reload(host, TARGET));
			return as_json(event, { ms = (monotonic() - started) * 1000 });
		end;
		["GET /heap"] = function(event)
			collectgarbage("collect");
			collectgarbage("collect");
			return as_json(event, { kb = collectgarbage("count") });
		end;
	};
});
