-- Unit: the Matrix push gateway (src/matrix.ts) through its context, with a
-- scripted relay standing in for relayPush. The real server is in matrix_spec.lua.
local matrix = require "matrix";
local errors = require "errors".errors;
local json = require "util.json";
local promise = require "util.promise";
local http = require "util.http";

local PREFIX = "https://push.example.test/push/";

-- A context whose relay answers from `script[token]`: a status, a util.error, a
-- function(response) returning the outcome, or a promise. Records every call.
local function harness(script)
	local h = { calls = {}, logs = {} };
	h.context = {
		endpointPrefix = function() return PREFIX; end,
		decode = http.urldecode,
		relay = function(token, request, response)
			h.calls[#h.calls + 1] = { token = token, body = request.body, headers = request.headers };
			local outcome = script and script[token] or 201;
			if type(outcome) == "function" then return outcome(response); end
			return outcome;
		end,
		log = function(level, message, ...)
			h.logs[#h.logs + 1] = level .. " " .. message:format(...);
		end,
	};
	return h;
end

local function new_response()
	return { status_code = 200, headers = {} };
end

-- The notification a homeserver posts, naming one device per pushkey.
local function notification(pushkeys)
	local devices = {};
	for i, pushkey in ipairs(pushkeys) do
		devices[i] = { app_id = "org.example.chat", pushkey = pushkey, pushkey_ts = 1700000000, data = { format = "event_id_only" } };
	end
	return json.encode({ notification = { event_id = "$ev", room_id = "!room:example.test", counts = { unread = 1 }, devices = devices } });
end

-- POSTs `body` through notify; returns status, decoded body and the response.
local function post(h, body)
	local response = new_response();
	local result = matrix.notify(h.context, { body = body, headers = {} }, response);
	assert.is_string(result, "notify answered with a promise where it should not wait");
	assert.equal("application/json", response.headers.content_type);
	return response.status_code, json.decode(result), response;
end

describe("the gateway's pushkeys", function()
	local cases = {
		{ "an endpoint with the token split into path and query", PREFIX .. "abcdefgh?ijklmnop", "abcdefghijklmnop" },
		{ "an old-style endpoint with the whole token in the path", PREFIX .. "abcdefghijklmnop", "abcdefghijklmnop" },
		{ "an escaped path and query", PREFIX .. "ab%2Ecd?e%3Ff", "ab.cde?f" },
		{ "a paseto token", PREFIX .. "v3.local?.AbC-_x", "v3.local.AbC-_x" },
		{ "another host", "https://push.example.org/push/abcdefgh?ijkl", nil },
		{ "another scheme", "http://push.example.test/push/abcdefgh?ijkl", nil },
		{ "a path that only begins like ours", "https://push.example.test/pushy/abcdefgh?ijkl", nil },
		{ "the base itself", PREFIX, nil },
		{ "an empty path part before the query", PREFIX .. "?abcdefgh", nil },
		{ "not a URL at all", "APA91bHPRgkF3JUikC4ENAHEeMrd41Zxv3hVZjC9KtT8OvPVGJ", nil },
		{ "an empty string", "", nil },
	};
	for _, case in ipairs(cases) do
		it((case[3] and "name our token: " or "are not ours: ") .. case[1], function()
			assert.equal(case[3], matrix.tokenOfPushkey(case[2], PREFIX, http.urldecode));
		end);
	end
end);

describe("the gateway's other answers", function()
	it("discovery is the UnifiedPush gateway document", function()
		local response = new_response();
		assert.same({ unifiedpush = { gateway = "matrix" } }, json.decode(matrix.discover(response)));
		assert.equal("application/json", response.headers.content_type);
	end);

	it("other methods get 405 with Allow and a Matrix error", function()
		local response = new_response();
		local body = json.decode(matrix.methodNotAllowed(response));
		assert.equal(405, response.status_code);
		assert.equal("GET, POST", response.headers.allow);
		assert.equal("M_UNRECOGNIZED", body.errcode);
		assert.is_string(body.error);
	end);
end);

describe("a notification the gateway refuses without relaying", function()
	local too_many = {};
	for i = 1, matrix.MAX_DEVICES + 1 do too_many[i] = PREFIX .. "token" .. i; end
	local cases = {
		{ "a body over 4096 bytes", notification({ PREFIX .. "abcdefgh?" .. string.rep("x", 4096) }), 413, "M_TOO_LARGE" },
		{ "an empty body", "", 400, "M_NOT_JSON" },
		{ "text that is not JSON", "hello, gateway", 400, "M_NOT_JSON" },
		{ "JSON cut short", '{"notification":{"devices":[{"pushkey":"x"', 400, "M_NOT_JSON" },
		{ "JSON with garbage after it", '{"notification":{}} x', 400, "M_NOT_JSON" },
		{ "a bad escape", '{"notification":"\\uZZZZ"}', 400, "M_NOT_JSON" },
		{ "2048 nested arrays", string.rep("[", 2048) .. string.rep("]", 2048), 400, "M_BAD_JSON" },
		{ "4090 unclosed arrays", string.rep("[", 4090), 400, "M_NOT_JSON" },
		{ "a JSON number", "42", 400, "M_BAD_JSON" },
		{ "no notification", '{"devices":[{"pushkey":"x"}]}', 400, "M_BAD_JSON" },
		{ "a notification without devices", '{"notification":{"event_id":"$e"}}', 400, "M_BAD_JSON" },
		{ "an empty device list", '{"notification":{"devices":[]}}', 400, "M_BAD_JSON" },
		{ "devices as an object", '{"notification":{"devices":{"1":{"pushkey":"x"}}}}', 400, "M_BAD_JSON" },
		{ "devices null", '{"notification":{"devices":null}}', 400, "M_BAD_JSON" },
		{ "a device without a pushkey", '{"notification":{"devices":[{"pushkey":"' .. PREFIX .. 'a"},{"app_id":"x"}]}}', 400, "M_BAD_JSON" },
		{ "a numeric pushkey", '{"notification":{"devices":[{"pushkey":12345}]}}', 400, "M_BAD_JSON" },
		{ "a device that is a string", '{"notification":{"devices":["' .. PREFIX .. 'abcdefgh"]}}', 400, "M_BAD_JSON" },
		{ ("%d devices"):format(#too_many), notification(too_many), 400, "M_BAD_JSON" },
	};
	for _, case in ipairs(cases) do
		it(("with %d %s: %s"):format(case[3], case[4], case[1]), function()
			local h = harness();
			local status, body = post(h, case[2]);
			assert.equal(case[3], status);
			assert.same(case[4], body.errcode);
			assert.is_string(body.error);
			assert.equal(0, #h.calls, "relayed anyway");
		end);
	end

	it("relays a notification naming exactly the most devices allowed", function()
		local pushkeys = {};
		for i = 1, matrix.MAX_DEVICES do pushkeys[i] = PREFIX .. "token" .. i; end
		local h = harness();
		local status, body = post(h, notification(pushkeys));
		assert.equal(200, status);
		assert.same({}, body.rejected);
		assert.equal(matrix.MAX_DEVICES, #h.calls);
	end);
end);

describe("a notification the gateway relays", function()
	it("passes the body unchanged and no RFC 8030 headers, once per endpoint", function()
		local h = harness();
		local body = notification({ PREFIX .. "abcdefgh?ijkl", PREFIX .. "mnopqrst?uvwx", PREFIX .. "abcdefgh?ijkl" });
		local status, answer = post(h, body);
		assert.equal(200, status);
		assert.same({ rejected = {} }, answer);
		assert.equal(2, #h.calls);
		assert.same({ "abcdefghijkl", "mnopqrstuvwx" }, { h.calls[1].token, h.calls[2].token });
		for _, call in ipairs(h.calls) do
			assert.is_true(call.body == body, "the relayed body differs from the notification");
			assert.same({}, call.headers);
		end
	end);

	it("answers an empty rejected list as a JSON array", function()
		local h = harness();
		local response = new_response();
		local text = matrix.notify(h.context, { body = notification({ PREFIX .. "abcdefgh?ijkl" }), headers = {} }, response);
		assert.equal('{"rejected":[]}', text);
	end);

	-- Each case: what relayPush answers per token, the pushkeys, and what the homeserver gets.
	local gone = function() return errors.new("unknown-endpoint"); end;
	local offline = function(response)
		response.headers.retry_after = "60";
		return errors.new("distributor-unavailable");
	end;
	local limited = function(response)
		response.headers.retry_after = "7";
		return errors.new("rate-limited");
	end;
	local bad_header = function(response)
		response.status_code = 400;
		return "TTL must be a whole number of seconds";
	end;
	local A, B, C = PREFIX .. "aaaaaaaa?1", PREFIX .. "bbbbbbbb?2", PREFIX .. "cccccccc?3";
	local FOREIGN = "https://gateway.example.org/UP?token=x";
	local cases = {
		{ name = "delivered", script = { ["aaaaaaaa1"] = 201 }, pushkeys = { A }, status = 200, rejected = {} },
		{ name = "a foreign pushkey is rejected without a relay", script = {}, pushkeys = { FOREIGN },
			status = 200, rejected = { FOREIGN }, relays = 0 },
		{ name = "an unknown, expired or revoked endpoint is rejected", script = { ["aaaaaaaa1"] = gone },
			pushkeys = { A }, status = 200, rejected = { A } },
		{ name = "a mix of delivered, foreign and revoked", script = { ["aaaaaaaa1"] = 201, ["bbbbbbbb2"] = gone },
			pushkeys = { A, FOREIGN, B }, status = 200, rejected = { FOREIGN, B }, relays = 2 },
		{ name = "a delivery and an offline distributor", script = { ["aaaaaaaa1"] = 201, ["cccccccc3"] = offline },
			pushkeys = { A, C }, status = 200, rejected = {} },
		{ name = "only an offline distributor", script = { ["cccccccc3"] = offline }, pushkeys = { C },
			status = 503, retry_after = "60" },
		{ name = "an offline distributor and a foreign pushkey", script = { ["cccccccc3"] = offline },
			pushkeys = { FOREIGN, C }, status = 503, retry_after = "60", relays = 1 },
		{ name = "two temporary failures: the shorter Retry-After", script = { ["aaaaaaaa1"] = offline, ["bbbbbbbb2"] = limited },
			pushkeys = { A, B }, status = 503, retry_after = "7" },
		{ name = "our own failure (500) is temporary", script = { ["aaaaaaaa1"] = function() return errors.new("internal"); end },
			pushkeys = { A }, status = 503, retry_after = "60" },
		{ name = "a string outcome takes its status from the response", script = { ["aaaaaaaa1"] = bad_header },
			pushkeys = { A }, status = 503, retry_after = "60" },
	};
	for _, case in ipairs(cases) do
		it(("answers %d: %s"):format(case.status, case.name), function()
			local h = harness(case.script);
			local status, answer, response = post(h, notification(case.pushkeys));
			assert.equal(case.status, status);
			if case.status == 200 then
				assert.same({ rejected = case.rejected }, answer);
				assert.is_nil(response.headers.retry_after);
			else
				assert.equal("M_UNKNOWN", answer.errcode);
				assert.equal(case.retry_after, response.headers.retry_after);
			end
			assert.equal(case.relays or #case.pushkeys, #h.calls);
		end);
	end
end);

describe("a notification waiting for distributors", function()
	-- A relay that answers with a promise each test settles by hand.
	local function waiting_harness(tokens)
		local settle = {};
		local script = {};
		for _, token in ipairs(tokens) do
			script[token] = function(response)
				return promise.new(function(resolve, reject)
					settle[token] = { resolve = resolve, reject = reject, response = response };
				end);
			end;
		end
		return harness(script), settle;
	end

	local function start(h, pushkeys)
		local response = new_response();
		local result = matrix.notify(h.context, { body = notification(pushkeys), headers = {} }, response);
		assert.is_true(promise.is_promise(result), "notify did not wait for the distributors");
		local answered;
		result:next(function(text) answered = text; end);
		return response, function() return answered; end;
	end

	it("answers once every distributor has answered", function()
		local h, settle = waiting_harness({ "aaaaaaaa1", "bbbbbbbb2" });
		local response, answered = start(h, { PREFIX .. "aaaaaaaa?1", PREFIX .. "bbbbbbbb?2", "https://elsewhere.example/x" });
		settle["aaaaaaaa1"].resolve(201);
		assert.is_nil(answered(), "answered before the second distributor");
		settle["bbbbbbbb2"].resolve(errors.new("unknown-endpoint"));
		assert.same({ rejected = { "https://elsewhere.example/x", PREFIX .. "bbbbbbbb?2" } }, json.decode(answered()));
		assert.equal(200, response.status_code);
		assert.equal("application/json", response.headers.content_type);
	end);

	it("answers 503 with Retry-After when every distributor failed for now", function()
		local h, settle = waiting_harness({ "aaaaaaaa1" });
		local response, answered = start(h, { PREFIX .. "aaaaaaaa?1" });
		settle["aaaaaaaa1"].response.headers.retry_after = "60";
		settle["aaaaaaaa1"].resolve(errors.new("distributor-unavailable"));
		assert.equal("M_UNKNOWN", json.decode(answered()).errcode);
		assert.equal(503, response.status_code);
		assert.equal("60", response.headers.retry_after);
	end);

	it("mixes answers known at once with ones it waits for", function()
		local h, settle = waiting_harness({ "bbbbbbbb2" });
		h.context.relay = (function(relay)
			return function(token, request, response)
				if token == "aaaaaaaa1" then return errors.new("unknown-endpoint"); end
				return relay(token, request, response);
			end;
		end)(h.context.relay);
		local response, answered = start(h, { PREFIX .. "aaaaaaaa?1", PREFIX .. "bbbbbbbb?2" });
		settle["bbbbbbbb2"].resolve(201);
		assert.same({ rejected = { PREFIX .. "aaaaaaaa?1" } }, json.decode(answered()));
		assert.equal(200, response.status_code);
	end);

	it("counts a relay that failed with an error as temporary and logs it", function()
		local h, settle = waiting_harness({ "aaaaaaaa1" });
		local response, answered = start(h, { PREFIX .. "aaaaaaaa?1" });
		settle["aaaaaaaa1"].reject("storage exploded");
		assert.equal("M_UNKNOWN", json.decode(answered()).errcode);
		assert.equal(503, response.status_code);
		assert.equal("60", response.headers.retry_after);
		local warned = false;
		for _, line in ipairs(h.logs) do
			if line:find("^warn ") and line:find("storage exploded", 1, true) then warned = true; end
		end
		assert.is_true(warned, "no warning: " .. table.concat(h.logs, "\n"));
	end);
end);

describe("the gateway's logs", function()
	it("never name a pushkey or a token", function()
		local secret = "SECRETTOKENPART";
		local h = harness({ ["aaaaaaaa" .. secret] = function() return errors.new("unknown-endpoint"); end });
		post(h, notification({ PREFIX .. "aaaaaaaa?" .. secret, "https://elsewhere.example/" .. secret }));
		assert.is_true(#h.logs > 0, "nothing was logged");
		for _, line in ipairs(h.logs) do
			assert.is_nil(line:find(secret, 1, true), "logged: " .. line);
			assert.is_nil(line:find("elsewhere", 1, true), "logged: " .. line);
		end
	end);
end);
