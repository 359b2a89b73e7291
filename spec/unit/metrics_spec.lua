-- Unit: the module's metrics (src/metrics.ts) declared on Prosody's real metric
-- registry (util.statistics, the "internal" provider), through a module object
-- that declares families as Prosody's module:metric does for a host module: the
-- family named prosody_mod_<module>/<name>, a host label first and filled in.
-- The names and labels a real scrape shows are checked in operability_spec.lua.
local metrics_module = require "metrics";
local statistics = require "util.statistics";

local function host_module(registry, host)
	local module = { host = host, name = "unified_push" };
	function module:metric(type_, name, unit, description, labels, extra)
		local keys = { "host" };
		for _, label in ipairs(labels) do keys[#keys + 1] = label; end
		local family = registry[type_](registry, "prosody_mod_" .. self.name .. "/" .. name, unit, description, keys, extra);
		return family:with_partial_label(self.host);
	end
	return module;
end

-- The samples of a rendered registry: { ["name{labels}"] = value }.
local function samples(registry)
	local found = {};
	for line in registry:render():gmatch("[^\n]+") do
		local series, value = line:match("^([%w_]+%b{}) (%S+)$");
		if not series then series, value = line:match("^([%w_]+) (%S+)$"); end
		if series then found[series] = tonumber(value); end
	end
	return found;
end

local LEVELS = {
	inFlight = function() return 3; end,
	stored = function() return 5, 1234; end,
};

local function declared(on)
	local registry = statistics.new().metric_registry;
	local metrics = metrics_module.declareMetrics(host_module(registry, "example.test"), function() return on ~= false; end);
	return metrics, registry;
end

describe("the metrics", function()
	it("start every labelled series at zero, so a scrape lists each outcome", function()
		local _, registry = declared();
		local found = samples(registry);
		local expected = {
			pushes = { "delivered", "stored", "gone", "unavailable", "limited", "bad_request", "unknown_endpoint", "failed" },
			registrations = { "new", "renewed", "forbidden", "bad_request", "limited", "failed" },
			revocations = { "gone", "admin", "account_deleted" },
			stored_messages_removed = { "delivered", "expired", "cancelled", "replaced", "endpoint_gone" },
		};
		local labels = { pushes = "outcome", registrations = "outcome", revocations = "reason", stored_messages_removed = "reason" };
		for family, values in pairs(expected) do
			for _, value in ipairs(values) do
				local series = ('prosody_mod_unified_push__%s_total{host="example.test",%s="%s"}'):format(family, labels[family], value);
				assert.equal(0, found[series], series);
			end
		end
		assert.equal(0, found['prosody_mod_unified_push__push_answer_seconds_count{host="example.test"}']);
		assert.equal(0, found['prosody_mod_unified_push__pushes_in_flight{host="example.test"}']);
		assert.equal(0, found['prosody_mod_unified_push__stored_messages{host="example.test"}']);
		assert.equal(0, found['prosody_mod_unified_push__stored_bytes{host="example.test"}']);
	end);

	it("count into the series of the label recorded, and time answers into the histogram", function()
		local metrics, registry = declared();
		metrics.pushes.delivered:add(1);
		metrics.pushes.delivered:add(1);
		metrics.pushes.gone:add(1);
		metrics.registrations.renewed:add(1);
		metrics.revocations.admin:add(2);
		metrics.removed.expired:add(1);
		metrics.answerTime:sample(0.02);
		metrics.answerTime:sample(3);
		local found = samples(registry);
		assert.equal(2, found['prosody_mod_unified_push__pushes_total{host="example.test",outcome="delivered"}']);
		assert.equal(1, found['prosody_mod_unified_push__pushes_total{host="example.test",outcome="gone"}']);
		assert.equal(0, found['prosody_mod_unified_push__pushes_total{host="example.test",outcome="stored"}']);
		assert.equal(1, found['prosody_mod_unified_push__registrations_total{host="example.test",outcome="renewed"}']);
		assert.equal(2, found['prosody_mod_unified_push__revocations_total{host="example.test",reason="admin"}']);
		assert.equal(1, found['prosody_mod_unified_push__stored_messages_removed_total{host="example.test",reason="expired"}']);
		assert.equal(2, found['prosody_mod_unified_push__push_answer_seconds_count{host="example.test"}']);
		assert.equal(1, found['prosody_mod_unified_push__push_answer_seconds_bucket{host="example.test",le="0.025"}']);
		assert.equal(1, found['prosody_mod_unified_push__push_answer_seconds_bucket{host="example.test",le="2.5"}']);
		assert.equal(2, found['prosody_mod_unified_push__push_answer_seconds_bucket{host="example.test",le="5"}']);
		assert.equal(2, found['prosody_mod_unified_push__push_answer_seconds_bucket{host="example.test",le="+Inf"}']);
	end);

	it("set the gauges from the levels when Prosody collects", function()
		local metrics, registry = declared();
		metrics.update(LEVELS);
		local found = samples(registry);
		assert.equal(3, found['prosody_mod_unified_push__pushes_in_flight{host="example.test"}']);
		assert.equal(5, found['prosody_mod_unified_push__stored_messages{host="example.test"}']);
		assert.equal(1234, found['prosody_mod_unified_push__stored_bytes{host="example.test"}']);
	end);

	it("keep one series per host on the same families", function()
		local registry = statistics.new().metric_registry;
		local a = metrics_module.declareMetrics(host_module(registry, "a.test"), function() return true; end);
		local b = metrics_module.declareMetrics(host_module(registry, "b.test"), function() return true; end);
		a.pushes.stored:add(1);
		b.pushes.stored:add(5);
		local found = samples(registry);
		assert.equal(1, found['prosody_mod_unified_push__pushes_total{host="a.test",outcome="stored"}']);
		assert.equal(5, found['prosody_mod_unified_push__pushes_total{host="b.test",outcome="stored"}']);
	end);

	it("read back as the admin shell prints them, gauges fresh", function()
		local metrics = declared();
		metrics.pushes.unknown_endpoint:add(4);
		metrics.answerTime:sample(0.5);
		metrics.removed.cancelled:add(1);
		local readings = metrics.read(LEVELS);
		local by_name = {};
		for _, reading in ipairs(readings) do
			local values = {};
			for _, pair in ipairs(reading.values) do values[#values + 1] = pair[1] .. "=" .. pair[2]; end
			by_name[reading.name] = table.concat(values, " ");
		end
		assert.same({
			pushes = "delivered=0 stored=0 gone=0 unavailable=0 limited=0 bad_request=0 unknown_endpoint=4 failed=0",
			push_answer = "count=1 sum=0.5",
			registrations = "new=0 renewed=0 forbidden=0 bad_request=0 limited=0 failed=0",
			revocations = "gone=0 admin=0 account_deleted=0",
			pushes_in_flight = "pushes=3",
			stored = "messages=5 bytes=1234",
			stored_messages_removed = "delivered=0 expired=0 cancelled=1 replaced=0 endpoint_gone=0",
		}, by_name);
	end);

	it("have nothing to read while Prosody keeps no statistics", function()
		local metrics = declared(false);
		assert.is_nil(metrics.read(LEVELS));
	end);
end);
