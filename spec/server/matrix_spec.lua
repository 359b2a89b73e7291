-- The Matrix push gateway (README "Matrix push gateway") against a real Prosody:
-- what a Matrix app finds with gateway discovery, and what a homeserver gets when
-- it posts notifications naming our endpoints, foreign pushkeys, revoked ones and
-- distributors that are offline; on a VirtualHost (with a second host that turns
-- the gateway off). As a component with http_host and behind http_external_url:
-- deployment_spec.
local up = require "unified_push";
local loop = require "loop";
local json = require "util.json";
local socket = require "socket";

local PASSWORD = "password";

local function connect(server, host, resource)
	return up.connect(server, { host = host, resource = resource, password = PASSWORD });
end

-- A notification shaped like a homeserver's in the default format (the example of
-- the Matrix Push Gateway API: event fields, content, counts, devices with app_id,
-- pushkey, pushkey_ts, data and tweaks), one device per pushkey. Non-ASCII on purpose.
local function full_notification(pushkeys)
	local devices = {};
	for i, pushkey in ipairs(pushkeys) do
		devices[i] = ('{"app_id":"im.example.chat.android","pushkey":%s,"pushkey_ts":1718000000,'
			.. '"data":{"url":"https://push.example.test/_matrix/push/v1/notify"},"tweaks":{"sound":"ping"}}')
			:format(json.encode(pushkey));
	end
	return '{"notification":{"event_id":"$r4nd0m-ev3nt:chat.example.test","room_id":"!launch:chat.example.test",'
		.. '"type":"m.room.message","sender":"@bob:chat.example.test","sender_display_name":"Bob",'
		.. '"room_name":"Launch plans","room_alias":"#launch:chat.example.test","prio":"high",'
		.. '"content":{"msgtype":"m.text","body":"Lift-off at nine \\u2014 ünïcödé ✓"},'
		.. '"counts":{"unread":3,"missed_calls":1},"devices":[' .. table.concat(devices, ",") .. ']}}';
end

-- The same in the event_id_only format: event and room ids, counts and devices only.
local function event_id_only(pushkeys)
	local devices = {};
	for i, pushkey in ipairs(pushkeys) do
		devices[i] = ('{"app_id":"im.example.chat.android","pushkey":%s,"pushkey_ts":1718000000,'
			.. '"data":{"format":"event_id_only"}}'):format(json.encode(pushkey));
	end
	return '{"notification":{"event_id":"$0nly-the-1d:chat.example.test","room_id":"!launch:chat.example.test",'
		.. '"counts":{"unread":1},"devices":[' .. table.concat(devices, ",") .. ']}}';
end

local function is_json(response)
	return (response.headers["content-type"] or ""):match("^application/json") ~= nil;
end

-- A Matrix error answer: status, application/json, { errcode, error }.
local function assert_matrix_error(response, status, errcode)
	assert.equal(status, response.status);
	assert.is_true(is_json(response), "Content-Type: " .. tostring(response.headers["content-type"]));
	local body = assert(json.decode(response.body), "not JSON: " .. tostring(response.body));
	assert.equal(errcode, body.errcode);
	assert.is_string(body.error);
end

-- 200 with exactly these rejected pushkeys (in the order the notification named them).
local function assert_rejected(response, rejected)
	assert.equal(200, response.status, "answer: " .. tostring(response.status) .. " " .. tostring(response.body));
	assert.is_true(is_json(response), "Content-Type: " .. tostring(response.headers["content-type"]));
	assert.same({ rejected = rejected }, json.decode(response.body));
end

local function assert_retry_after(response)
	local value = response.headers["retry-after"];
	assert.is_string(value, "503 without a Retry-After header");
	assert.truthy(value:match("^%d+$") and tonumber(value) > 0, "Retry-After: " .. value);
end

-- The pushes `client` received after the first `before`.
local function pushes_since(client, before)
	local all, found = up.pushes(client), {};
	for i = before + 1, #all do found[#found + 1] = all[i]; end
	return found;
end

-- Posts `body` to the gateway and returns the answer with the pushes `client`
-- received meanwhile. Pushes are answered before the gateway answers; the ping
-- catches any that should not have been sent.
local function notify(server, host, client, service, body)
	local before = #up.pushes(client);
	local response = assert(up.matrix_notify(server, host, body));
	up.ping(client, service);
	return response, pushes_since(client, before);
end

describe("the Matrix push gateway on a VirtualHost", function()
	local HOST = "example.test";
	local f = up.fixture({
		hosts = { HOST, "other.test" },
		users = { { "alice", HOST, PASSWORD }, { "alice", "other.test", PASSWORD } },
		config = { unified_push_iq_timeout = 2 },
		host_options = { ["other.test"] = { unified_push_matrix_gateway = false } },
	});

	-- Gateway discovery (GET): conformance_spec asserts ours (status, Content-Type, body).
	it("says Vary: Origin when its CORS answer echoes the Origin, and not without one", function()
		local origin = "https://client.example.org";
		local response = assert(up.matrix_notify(f.server, HOST, nil, "GET", { Origin = origin }));
		assert.equal(200, response.status);
		assert.equal(origin, response.headers["access-control-allow-origin"]);
		assert.equal("Origin", response.headers["vary"]);
		response = assert(up.matrix_notify(f.server, HOST, nil, "GET"));
		assert.is_nil(response.headers["vary"]);
	end);

	local formats = { { "the default format", full_notification }, { "the event_id_only format", event_id_only } };
	for _, format in ipairs(formats) do
		it("relays a notification in " .. format[1] .. " byte for byte to the distributor", function()
			local reg = assert(up.register(f.client, HOST));
			local body = format[2]({ reg.endpoint });
			local response, pushes = notify(f.server, HOST, f.client, HOST, body);
			assert_rejected(response, {});
			assert.equal(1, #pushes);
			assert.same({ from = HOST, application = reg.application, instance = reg.instance },
				{ from = pushes[1].from, application = pushes[1].application, instance = pushes[1].instance });
			assert.equal(#body, #pushes[1].body);
			assert.is_true(pushes[1].body == body, "the relayed body differs from the notification");
		end);
	end

	it("relays to each of our devices once and rejects foreign, unknown and revoked pushkeys", function()
		local first = assert(up.register(f.client, HOST));
		local second = assert(up.register(f.client, HOST));
		local revoked = assert(up.register(f.client, HOST));
		f.client:on_iq("item-not-found");
		assert.equal(404, assert(up.push(f.server, revoked.endpoint, "are you there?")).status);
		f.client:on_iq("result");
		local token = first.token;
		local middle = #token // 2;
		local unknown = up.endpoint_for(first.endpoint,
			token:sub(1, middle - 1) .. (token:sub(middle, middle) == "A" and "B" or "A") .. token:sub(middle + 1));
		local foreign = "https://ntfy.example.org/upAbCdEfGh?up=1";
		-- The same token on the f.server's own port but not under our endpoint base.
		local elsewhere = up.local_url(f.server, first.endpoint);
		local body = full_notification({ first.endpoint, foreign, revoked.endpoint, second.endpoint,
			first.endpoint, unknown, elsewhere });
		local response, pushes = notify(f.server, HOST, f.client, HOST, body);
		assert_rejected(response, { foreign, revoked.endpoint, unknown, elsewhere });
		assert.equal(2, #pushes, "expected one push per device of ours");
		local got = {};
		for _, push in ipairs(pushes) do
			assert.is_true(push.body == body, "the relayed body differs from the notification");
			got[#got + 1] = push.application;
		end
		table.sort(got);
		local expected = { first.application, second.application };
		table.sort(expected);
		assert.same(expected, got);
	end);

	it("rejects a pushkey whose distributor says the app is gone, and revokes the endpoint", function()
		local reg = assert(up.register(f.client, HOST));
		f.client:on_iq("item-not-found");
		local response, pushes = notify(f.server, HOST, f.client, HOST, event_id_only({ reg.endpoint }));
		assert_rejected(response, { reg.endpoint });
		assert.equal(1, #pushes, "the distributor was not asked");
		f.client:on_iq("result");
		local again = assert(up.push(f.server, reg.endpoint, "still there?"));
		assert.equal(404, again.status);
	end);

	it("keeps the notification for an offline distributor (200) and sends it when it comes back", function()
		local away = connect(f.server, HOST, "away");
		local offline = assert(up.register(away, HOST));
		away:close();
		-- The f.server has handled the disconnect once our own ping returns.
		up.ping(f.client, HOST);
		local foreign = "https://gateway.example.org/push/abc";
		local body = event_id_only({ offline.endpoint, foreign });
		local response, pushes = notify(f.server, HOST, f.client, HOST, body);
		assert_rejected(response, { foreign });
		assert.equal(0, #pushes);
		away = connect(f.server, HOST, "away");
		-- What was kept goes out right after the bind (bounded wait).
		loop.run_until(function() return #up.pushes(away) >= 1; end, 5);
		local kept = up.pushes(away);
		assert.equal(1, #kept, "the kept notification did not arrive");
		assert.equal(body, kept[1].body);
		away:close();
	end);

	it("answers 503 with Retry-After when the only distributor fails for now, and 200 once one got it", function()
		local busy = connect(f.server, HOST, "busy");
		busy:on_iq("service-unavailable");
		local failing = assert(up.register(busy, HOST));
		local foreign = "https://gateway.example.org/push/abc";
		local response = notify(f.server, HOST, busy, HOST, event_id_only({ failing.endpoint, foreign }));
		assert_matrix_error(response, 503, "M_UNKNOWN");
		assert_retry_after(response);

		local online = assert(up.register(f.client, HOST));
		local pushes;
		response, pushes = notify(f.server, HOST, f.client, HOST, event_id_only({ failing.endpoint, online.endpoint }));
		assert_rejected(response, {});
		assert.equal(1, #pushes);
		assert.equal(online.application, pushes[1].application);
		busy:close();
	end);

	it("makes no outgoing request for a pushkey that points somewhere else", function()
		local listener = assert(socket.bind("127.0.0.1", 0));
		local _, port = listener:getsockname();
		listener:settimeout(0);
		local target = ("http://127.0.0.1:%d/push/abcdefgh?ijkl"):format(port);
		local response, pushes = notify(f.server, HOST, f.client, HOST, full_notification({ target }));
		assert_rejected(response, { target });
		assert.equal(0, #pushes);
		local connection = listener:accept();
		listener:close();
		assert.is_nil(connection, "the gateway connected to the pushkey's address");
	end);

	-- One refusal through a real server: every malformed notification is the unit matrix_spec's.
	it("answers 400 M_NOT_JSON to a body that is not JSON", function()
		local response, pushes = notify(f.server, HOST, f.client, HOST, "not json at all");
		assert_matrix_error(response, 400, "M_NOT_JSON");
		assert.equal(0, #pushes);
	end);

	it("answers 413 M_TOO_LARGE to a notification over 4096 bytes, without relaying it", function()
		local reg = assert(up.register(f.client, HOST));
		local body = full_notification({ reg.endpoint });
		body = body:gsub('"room_name":"', '"room_name":"' .. string.rep("x", 4097 - #body), 1);
		assert.equal(4097, #body);
		local response, pushes = notify(f.server, HOST, f.client, HOST, body);
		assert_matrix_error(response, 413, "M_TOO_LARGE");
		assert.equal(0, #pushes);
	end);

	it("relays a notification of exactly 4096 bytes", function()
		local reg = assert(up.register(f.client, HOST));
		local body = full_notification({ reg.endpoint });
		body = body:gsub('"room_name":"', '"room_name":"' .. string.rep("x", 4096 - #body), 1);
		assert.equal(4096, #body);
		local response, pushes = notify(f.server, HOST, f.client, HOST, body);
		assert_rejected(response, {});
		assert.equal(1, #pushes);
		assert.is_true(pushes[1].body == body, "the relayed body differs from the notification");
	end);

	for _, method in ipairs({ "PUT", "DELETE", "PATCH" }) do
		it("answers 405 M_UNRECOGNIZED with Allow to " .. method, function()
			local response = assert(up.matrix_notify(f.server, HOST, "{}", method));
			assert_matrix_error(response, 405, "M_UNRECOGNIZED");
			assert.equal("GET, POST", response.headers.allow);
		end);
	end

	describe("turned off with unified_push_matrix_gateway = false", function()
		it("is not served, while the host's endpoints work", function()
			local other = connect(f.server, "other.test");
			local reg = assert(up.register(other, "other.test"));
			assert.equal(404, assert(up.matrix_notify(f.server, "other.test", nil, "GET")).status);
			assert.equal(404, assert(up.matrix_notify(f.server, "other.test", event_id_only({ reg.endpoint }))).status);
			assert.equal(0, #up.pushes(other));
			assert.equal(201, assert(up.push(f.server, reg.endpoint, "direct")).status);
			assert.equal(1, #up.pushes(other));
			other:close();
		end);
	end);

	it("leaves a clean log without whole tokens", function()
		f.server:assert_log_clean();
		local reg = assert(up.register(f.client, HOST));
		notify(f.server, HOST, f.client, HOST, full_notification({ reg.endpoint }));
		assert.is_nil(f.server:log():find(reg.token, 1, true), "a whole token is in the log");
		assert.is_nil(f.server:log():find("Lift-off", 1, true), "the notification is in the log");
	end);
end);
