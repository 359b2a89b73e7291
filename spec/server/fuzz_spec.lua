-- Fuzz (docs/design.md, "Protocol" and "HTTP semantics"): thousands of random and mutated registrations and
-- HTTP requests against a live Prosody that runs the module on every backend this
-- Prosody supports. Every answer must be one the specification allows for that
-- input, no client is ever disconnected, and afterwards the server still registers
-- and delivers a push with a clean log. What it fuzzes is what needs a server:
-- Prosody's XML and HTTP parsing and routing on the way to the module. What
-- becomes of each distributor answer, body or forged token is specified row by
-- row in the unit specs (pending_spec, relay_spec, backends_spec, which also
-- seals random claims), and through a server once each in push_spec.
--
-- Bounded: each category stops at its case count or its time budget, whichever
-- comes first. Seeded: the seed is printed with the counts; replay a run with
--   env/chroot.sh run NAME env MUP_FUZZ_SEED=<seed> lua5.4 /usr/bin/busted spec/server/fuzz_spec.lua
-- (MUP_FUZZ_SCALE=<k> runs k times as many cases, with k times the time budget).
-- Tokens, ids and hashes the server makes are random, so a replay repeats the
-- inputs and mutations, not every byte of them; failures print the exact input.
local prosody = require "prosody";
local up = require "unified_push";
local fuzz = require "fuzz";
local st = require "util.stanza";
local jid = require "util.jid";
local json = require "util.json";
local base64 = require "util.encodings".base64;
local loop = require "loop";
local deepcompare = require "luassert.util".deepcompare;

local NS = up.NS;
local MAX_BODY = 4096;
local IQ_TIMEOUT = 1;
-- 44 characters, like `openssl rand -base64 32`.
local SECRET = "RnV6emluZyBzZWNyZXQgZm9yIHRlc3RzIG9ubHkhIQ==";
local DISCOVERY = { unifiedpush = { version = 1 } };

local on_13 = prosody.major >= 13;

-- One VirtualHost per backend this Prosody supports; the first uses the default.
-- `aliases`: a token other than the issued one may still name the registration
-- (PASETO's base64url ignores the unused bits of its last character).
local HOSTS = {
	{ name = "example.test", backend = on_13 and "paseto" or "storage", aliases = on_13 },
	{ name = "jwt.test", backend = "jwt", options = { unified_push_backend = "jwt", unified_push_secret = SECRET } },
};
if on_13 then
	table.insert(HOSTS, 2, { name = "storage.test", backend = "storage", options = { unified_push_backend = "storage" } });
end
local HOST_NAMES, BY_NAME = {}, {};
for _, host in ipairs(HOSTS) do
	HOST_NAMES[#HOST_NAMES + 1] = host.name;
	BY_NAME[host.name] = host;
end

local SCALE = fuzz.scale();
-- Cases and seconds per category.
local BUDGET = {
	attributes = { 2000, 8 },
	structure = { 600, 4 },
	addresses = { 800, 5 },
	methods = { 600, 4 },
	paths = { 1200, 8 },
	headers = { 1000, 6 },
};
-- Endpoints per host that take the pushes (spreads the per-endpoint rate limit).
local ENDPOINTS_PER_HOST = 5;

local function set_of(list)
	local set = {};
	for _, item in ipairs(list) do set[item] = true; end
	return set;
end

local function shown_set(set)
	local items = {};
	for item in pairs(set) do items[#items + 1] = tostring(item); end
	table.sort(items);
	return "{" .. table.concat(items, ", ") .. "}";
end

-- The value of an attribute as the server's XML parser hands it over: line ends
-- and tabs become spaces (XML 1.0 §3.3.3).
local function as_parsed(value)
	return (value:gsub("\r\n", "\n"):gsub("[\t\n\r]", " "));
end

local HASH_PATTERN = "^" .. ("[A-Za-z0-9+/]"):rep(43) .. "=$";

-- docs/design.md, "Protocol": standard base64 of exactly 32 bytes. "unclear" for the encodings that
-- decode to 32 bytes but are not canonical (decoders may accept them).
local function hash_verdict(value)
	if value == nil then return "invalid"; end
	value = as_parsed(value);
	if not value:match(HASH_PATTERN) then return "invalid"; end
	local k = fuzz.BASE64:find(value:sub(43, 43), 1, true) - 1;
	return k % 4 == 0 and "valid" or "unclear";
end

describe("fuzzing the module", function()
	local seed = fuzz.seed();
	local users, host_options = {}, {};
	for _, host in ipairs(HOSTS) do
		users[#users + 1] = { "alice", host.name, "password" };
		users[#users + 1] = { "fuzzer", host.name, "password" };
		host_options[host.name] = host.options;
	end
	local f = up.fixture({ hosts = HOST_NAMES, users = users, config = { unified_push_iq_timeout = IQ_TIMEOUT },
		host_options = host_options, distributor = false });
	local server;
	local phones = {};           -- host name -> alice@host/phone: registers endpoints, takes pushes
	local fuzzers = {};          -- host name -> fuzzer@host/pc: sends the fuzzed IQs
	local replies = {};          -- host name -> id -> IQ result/error stanzas the fuzzer got
	local live = {};             -- host name -> registrations that take pushes
	local tokens = {};           -- token -> registration, for every endpoint issued
	local registered_pairs = {}; -- host name -> "application instance" -> true
	local answered = {};         -- { phone, push } for every push since the last case
	local summary = {};
	-- What the server answered, per category: status codes, IQ types and conditions.
	local outcomes = {};
	local current_category;
	local function tally(label)
		local counts = outcomes[current_category];
		counts[label] = (counts[label] or 0) + 1;
	end
	local function shown_tally(counts)
		local labels = {};
		for label in pairs(counts) do labels[#labels + 1] = label; end
		table.sort(labels);
		for i, label in ipairs(labels) do labels[i] = label .. " " .. counts[label]; end
		return table.concat(labels, ", ");
	end

	-- Records every IQ result/error by id, on top of what the client does.
	local function track_replies(client)
		local seen = {};
		local handle = client._handle;
		client._handle = function(self, stanza)
			local t = stanza.attr.type;
			if stanza.name == "iq" and (t == "result" or t == "error") and stanza.attr.id then
				local list = seen[stanza.attr.id] or {};
				list[#list + 1] = stanza;
				seen[stanza.attr.id] = list;
			end
			return handle(self, stanza);
		end;
		return seen;
	end

	-- How a phone answers: pushes with a result, recorded; everything else the
	-- client's default. (What becomes of every other answer: pending_spec and
	-- relay_spec, row by row; push_spec through a server.)
	local function phone_policy(client)
		return function(stanza)
			if not stanza:get_child("push", NS) then
				return stanza.attr.type == "set" and "result" or "service-unavailable";
			end
			answered[#answered + 1] = { phone = client, push = stanza };
			return "result";
		end;
	end

	-- A registration of the phone on host_name, as a distributor makes it; raises
	-- unless it got an endpoint. The token is what fuzz.route (the model of
	-- Prosody's routing and the module's token lookup) finds in the endpoint.
	local registrations_made = 0;
	local function register(host_name)
		registrations_made = registrations_made + 1;
		local rng = fuzz.rng(seed, "registration", registrations_made);
		local application, instance = base64.encode(rng:bytes(32)), base64.encode(rng:bytes(32));
		local endpoint = up.must_register(phones[host_name], host_name,
			{ application = application, instance = instance }).endpoint;
		local target = assert(endpoint:match("^https?://[^/]+(/.*)$"), "endpoint without a path: " .. endpoint);
		local route = assert(fuzz.route(target));
		local registration = {
			host = host_name, endpoint = endpoint, target = target, token = route.token,
			application = application, instance = instance, phone = phones[host_name],
		};
		tokens[registration.token] = registration;
		table.insert(live[host_name], registration);
		return registration;
	end

	local function all_closed_clients()
		local closed = {};
		for _, clients in ipairs({ phones, fuzzers }) do
			for _, client in pairs(clients) do
				if client.closed then closed[#closed + 1] = tostring(client) .. ": " .. tostring(client.closed); end
			end
		end
		table.sort(closed);
		return closed;
	end

	-- Runs run_case(rng, n) for case numbers 1, 2, ... within the category's
	-- budget; a case returns nil or what is wrong. Fails listing the first ten.
	local function run_category(name, run_case)
		local count, seconds = BUDGET[name][1] * SCALE, BUDGET[name][2] * SCALE;
		local budget = fuzz.budget(count, seconds);
		local failures = {};
		current_category, outcomes[name] = name, {};
		for n in budget.cases() do
			local ran, problem = pcall(run_case, fuzz.rng(seed, name, n), n);
			if not ran then problem = "the spec itself failed: " .. tostring(problem); end
			if problem then
				failures[#failures + 1] = ("[%s #%d, MUP_FUZZ_SEED=%d] %s"):format(name, n, seed, problem);
				if #failures >= 10 then break; end
			end
			local closed = all_closed_clients();
			if #closed > 0 then
				failures[#failures + 1] = ("[%s #%d, MUP_FUZZ_SEED=%d] a client was disconnected: %s")
					:format(name, n, seed, table.concat(closed, "; "));
				break;
			end
		end
		summary[#summary + 1] = ("%-10s %5d cases in %5.2f s (%s)")
			:format(name, budget.ran(), budget.elapsed(), shown_tally(outcomes[name]));
		assert(#failures == 0, #failures .. " failing case(s):\n" .. table.concat(failures, "\n"));
		-- The time budget must not turn the category into a no-op.
		assert.is_true(budget.ran() >= math.min(count, 50), name .. ": only " .. budget.ran() .. " cases ran");
	end

	setup(function()
		print(("\nfuzz: MUP_FUZZ_SEED=%d (Prosody %s)"):format(seed, prosody.version));
		server = f.server;
		for _, host in ipairs(HOSTS) do
			local phone = f:connect({ host = host.name });
			phones[host.name] = phone;
			phone:on_iq(phone_policy(phone));
			local fuzzer = f:connect({ host = host.name, user = "fuzzer", resource = "pc" });
			fuzzers[host.name] = fuzzer;
			replies[host.name] = track_replies(fuzzer);
			live[host.name] = {};
			registered_pairs[host.name] = {};
			for _ = 1, ENDPOINTS_PER_HOST do register(host.name); end
		end
	end);

	teardown(function()
		print("\nfuzz: MUP_FUZZ_SEED=" .. seed .. "\n  " .. table.concat(summary, "\n  "));
	end);

	---------------------------------------------------------------------------
	-- Registrations (docs/design.md, "Protocol")
	---------------------------------------------------------------------------
	describe("registration IQs", function()
		-- Values a distributor would send again and again (renewals).
		local POOL = {};
		for i = 1, 6 do POOL[i] = base64.encode(fuzz.rng(seed, "pool", i):bytes(32)); end

		-- What the module must answer to <register/> as the server parsed it.
		-- case: { host, client_host, type, application, instance }.
		local function check_module_answer(case, reply)
			local kind, condition, text = reply:get_error();
			if case.host ~= case.client_host and case.type == "set" then
				if reply.attr.type == "error" and kind == "auth" and condition == "forbidden" then return nil; end
				return "a registration at another host than the sender's was not refused with auth/forbidden";
			end
			if case.type == "get" then
				if reply.attr.type == "error" and kind == "modify" and condition == "bad-request" then return nil; end
				return "register with type get was not answered with modify/bad-request";
			end
			local verdicts = { application = hash_verdict(case.application), instance = hash_verdict(case.instance) };
			local any_invalid = verdicts.application == "invalid" or verdicts.instance == "invalid";
			if reply.attr.type == "result" then
				if any_invalid then return "accepted an invalid application/instance"; end
				local registered = reply:get_child("registered", NS);
				if not registered then return "result without <registered/>"; end
				local endpoint, expiration = registered.attr.endpoint, registered.attr.expiration;
				local host_pattern = case.host:gsub("%.", "%%.");
				if not (endpoint or ""):match("^https?://" .. host_pattern .. "[:/].*/push/[^/]+$") then
					return "endpoint not under /push on the host: " .. tostring(endpoint);
				end
				if not (expiration or ""):match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$") then
					return "expiration is not a UTC XEP-0082 datetime: " .. tostring(expiration);
				end
				registered_pairs[case.host][case.application .. " " .. case.instance] = true;
				return nil;
			end
			if kind == "modify" and condition == "bad-request" then
				if not any_invalid and verdicts.application == "valid" and verdicts.instance == "valid" then
					return "refused valid values: " .. tostring(text);
				end
				text = text or "";
				local named = (verdicts.application ~= "valid" and text:find("application", 1, true))
					or (verdicts.instance ~= "valid" and text:find("instance", 1, true));
				if not named then return "the error text names no attribute that is wrong: " .. text; end
				return nil;
			end
			-- A cap on registrations per user may refuse new pairs, never renewals.
			local pair = (case.application or "") .. " " .. (case.instance or "");
			if not any_invalid and (condition == "resource-constraint" or condition == "policy-violation")
				and not registered_pairs[case.host][pair] then
				return nil;
			end
			return ("unexpected answer %s/%s (%s)"):format(tostring(kind), tostring(condition), tostring(text));
		end

		-- Sends cases in batches (pipelined, as a busy client would), then checks
		-- every one: a single answer for get/set, none for result/error.
		-- case: { kind, client_host, id, stanza | raw, expect = "module" | "answer" | "none",
		--         and for "module": host, type, application, instance }.
		local pending = {};
		local function flush()
			local by_host = {};
			for _, case in ipairs(pending) do
				by_host[case.client_host] = true;
			end
			local function answered_all()
				for _, case in ipairs(pending) do
					if case.expect ~= "none" and not replies[case.client_host][case.id] then return false; end
				end
				return true;
			end
			loop.run_until(answered_all, 10);
			-- Everything the server sent before the pong has arrived.
			for host_name in pairs(by_host) do
				if not fuzzers[host_name].closed then up.sync(fuzzers[host_name]); end
			end
			local problems = {};
			for _, case in ipairs(pending) do
				local got = replies[case.client_host][case.id] or {};
				if got[1] then
					local _, condition = got[1]:get_error();
					tally(got[1].attr.type .. (condition and ("/" .. condition) or ""));
				else
					tally("no answer");
				end
				local problem;
				if case.expect == "none" then
					if #got > 0 then problem = "answered an IQ of type " .. tostring(case.type) .. ": " .. tostring(got[1]); end
				elseif #got ~= 1 then
					problem = #got .. " answers instead of one";
				elseif case.expect == "module" then
					problem = check_module_answer(case, got[1]);
					if problem then problem = problem .. "\n  answer: " .. fuzz.show(tostring(got[1]), 600); end
				elseif got[1].attr.type == "error" and not select(2, got[1]:get_error()) then
					problem = "an error answer without a condition: " .. tostring(got[1]);
				end
				if problem then
					problems[#problems + 1] = problem .. "\n  input (" .. case.kind .. "): "
						.. fuzz.show(case.raw or tostring(case.stanza), 1500);
				end
				replies[case.client_host][case.id] = nil;
			end
			pending = {};
			return problems;
		end

		-- Wraps a per-case builder into run_category: cases go out in batches of 25
		-- and their problems are reported against the case that closes the batch.
		local function batched(build)
			return function(rng, n)
				local id = ("fz%d-%s"):format(n, fuzz.b64url(rng:bytes(6)));
				local ok, case = pcall(build, rng, id);
				if not ok then return "generator failed: " .. tostring(case); end
				case.id = id;
				local client = fuzzers[case.client_host];
				if case.raw then case.raw = case.raw:gsub("{ID}", id); end
				local data = case.raw or tostring(case.stanza);
				client:send(data);
				if #data > 4096 then
					-- Expat's reparse deferral (both Debian releases) leaves what follows a
					-- token that came in several reads unparsed until the buffer has doubled;
					-- whitespace between stanzas (a keepalive) gets the server going again.
					client:send(string.rep(" ", #data));
				end
				pending[#pending + 1] = case;
				if #pending < 25 then return nil; end
				local problems = flush();
				if #problems > 0 then return table.concat(problems, "\n"); end
			end;
		end

		local function finish()
			local problems = flush();
			assert(#problems == 0, table.concat(problems, "\n"));
		end

		local function valid_value(rng)
			return rng:chance(0.5) and rng:pick(POOL) or base64.encode(rng:bytes(32));
		end

		it("answers random and mutated application/instance values as docs/design.md (Protocol) says", function()
			pending = {};
			run_category("attributes", batched(function(rng, id)
				local host = rng:pick(HOSTS).name;
				local application, app_kind = fuzz.hash_value(rng, valid_value(rng));
				local instance, inst_kind = fuzz.hash_value(rng, valid_value(rng));
				return {
					kind = app_kind .. "/" .. inst_kind, client_host = host, host = host, type = "set",
					expect = "module", application = application and as_parsed(application),
					instance = instance and as_parsed(instance),
					stanza = st.iq({ type = "set", to = host, id = id })
						:tag("register", { xmlns = NS, application = application, instance = instance }),
				};
			end));
			finish();
		end);

		-- A random XML name.
		local function xml_name(rng)
			return rng:from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_", 1)
				.. rng:from(fuzz.ALNUM .. "-._", rng:int(0, 15));
		end

		-- A random element tree below parent, depth levels deep at most.
		local function add_children(rng, parent, depth)
			for _ = 1, rng:int(1, 3) do
				local attrs = { xmlns = rng:chance(0.5) and ("urn:fuzz:" .. xml_name(rng)) or nil };
				for _ = 1, rng:int(0, 3) do attrs[xml_name(rng)] = rng:xml_text(rng:int(0, 20)); end
				parent:tag(xml_name(rng), attrs);
				if rng:chance(0.4) then parent:text(rng:xml_text(rng:int(1, 40))); end
				if depth > 1 and rng:chance(0.5) then add_children(rng, parent, depth - 1); end
				parent:up();
			end
		end

		-- Character references for some characters of value (the parser decodes them).
		local function char_refs(rng, value)
			return (value:gsub("[\1-\127]", function(c)
				if not rng:chance(0.3) then return st.xml_escape(c); end
				return rng:chance(0.5) and ("&#%d;"):format(c:byte()) or ("&#x%X;"):format(c:byte());
			end));
		end

		it("answers wrong names, namespaces, attributes and children without losing the stream", function()
			pending = {};
			run_category("structure", batched(function(rng, id)
				local host = rng:pick(HOSTS).name;
				local application, instance = valid_value(rng), valid_value(rng);
				if rng:chance(0.3) then application = fuzz.hash_value(rng, application) or application; end
				local name, ns = "register", NS;
				local attrs = {};
				local raw;
				local variant = rng:weighted({
					{ 3, "missing" }, { 3, "extra-attributes" }, { 2, "namespaced-attribute" }, { 2, "attribute-case" },
					{ 3, "element-name" }, { 4, "namespace" }, { 4, "nested-children" }, { 2, "text" },
					{ 2, "sibling" }, { 2, "raw-prefixed" }, { 3, "raw-char-refs" }, { 1, "raw-cdata" },
				});
				if variant == "missing" then
					local which = rng:pick({ "application", "instance", "both" });
					if which ~= "instance" then application = nil; end
					if which ~= "application" then instance = nil; end
				elseif variant == "extra-attributes" then
					for _ = 1, rng:int(1, 5) do
						local key = xml_name(rng);
						if key ~= "application" and key ~= "instance" and key ~= "xmlns" then
							attrs[key] = rng:weighted({ { 1, rng:xml_text(rng:int(0, 30)) }, { 1, base64.encode(rng:bytes(32)) } });
						end
					end
				elseif variant == "namespaced-attribute" then
					attrs["urn:fuzz:attr\1application"] = application;
					if rng:chance(0.5) then attrs["urn:fuzz:attr\1instance"] = instance; end
					application = nil;
				elseif variant == "attribute-case" then
					attrs.Application, attrs.INSTANCE = application, instance;
					application, instance = nil, nil;
				elseif variant == "element-name" then
					name = rng:pick({ "registered", "unregister", "Register", "REGISTER", "push", "register2",
						fuzz.mutate(rng, "register", "abcdefghijklmnopqrstuvwxyz", 2) });
					if not name:match("^[%a_][%w._-]*$") then name = "x" .. name:gsub("[^%w]", ""); end
				elseif variant == "namespace" then
					ns = rng:pick({ "", "jabber:client", NS .. "/", NS:upper(), "urn:xmpp:push:0",
						NS .. "#x", fuzz.mutate(rng, NS, fuzz.PRINTABLE, 3),
						rng:xml_text(rng:int(1, 40)) });
				end
				attrs.xmlns = ns;
				attrs.application, attrs.instance = application, instance;

				local iq = st.iq({ type = "set", to = host, id = id });
				if variant == "text" then iq:text(rng:xml_text(rng:int(1, 50))); end
				iq:tag(name, attrs);
				if variant == "nested-children" then add_children(rng, iq, 3); end
				if variant == "text" then iq:text(rng:xml_text(rng:int(1, 200))); end
				iq:up();
				if variant == "sibling" then
					iq:tag(rng:pick({ "register", xml_name(rng) }), { xmlns = rng:pick({ NS, "urn:fuzz" }) }):up();
				end

				if variant == "raw-prefixed" then
					local prefix = rng:pick({ "up", "x", "register" });
					raw = ("<iq type='set' to='%s' id='{ID}'><%s:register xmlns:%s='%s' application='%s' instance='%s'/></iq>")
						:format(host, prefix, prefix, NS, st.xml_escape(application), st.xml_escape(instance));
				elseif variant == "raw-char-refs" then
					raw = ("<iq type='set' to='%s' id='{ID}'><register xmlns=\"%s\" application=\"%s\" instance = '%s'/></iq>")
						:format(host, char_refs(rng, NS), char_refs(rng, application), char_refs(rng, instance));
				elseif variant == "raw-cdata" then
					raw = ("<iq type='set' to='%s' id='{ID}'><register xmlns='%s' application='%s' instance='%s'><![CDATA[%s]]></register></iq>")
						:format(host, NS, st.xml_escape(application), st.xml_escape(instance),
							(rng:xml_text(rng:int(1, 40)):gsub("]]>", "")));
				end

				local reaches_module = name == "register" and ns == NS and variant ~= "sibling";
				return {
					kind = variant, client_host = host, host = host, type = "set",
					expect = reaches_module and "module" or "answer",
					application = application and as_parsed(application), instance = instance and as_parsed(instance),
					stanza = not raw and iq or nil, raw = raw,
				};
			end));
			finish();
		end);

		-- The host a JID names after preparation, when it is a served host with no
		-- node (so the IQ reaches the module on that host).
		local function module_host(to)
			if to == nil then return nil; end
			local node, host = jid.prepped_split(to);
			if node == nil and host and BY_NAME[host] then return host; end
			return nil;
		end

		-- Only served hosts or malformed JIDs: any other domain means DNS and s2s.
		local function stays_local(to)
			if to == nil then return true; end
			local _, host = jid.prepped_split(to);
			return host == nil or BY_NAME[host] ~= nil;
		end

		it("answers IQs of every type to every kind of address", function()
			pending = {};
			run_category("addresses", batched(function(rng, id)
				local client_host = rng:pick(HOSTS).name;
				local own = fuzzers[client_host].full_jid;
				local iq_type = rng:weighted({
					{ 45, "set" }, { 20, "get" }, { 12, "result" }, { 12, "error" },
					{ 4, rng:pick({ "SET", "Get", "", "submit", "normal", "set " }) },
					{ 3, rng:xml_text(rng:int(1, 10)) }, { 2, false },
				});
				local to, to_kind = fuzz.jid(rng, HOST_NAMES, own);
				if not stays_local(to) then to, to_kind = client_host, "own-host"; end
				-- An IQ result or error to oneself would come back as a reply.
				if (iq_type == "result" or iq_type == "error") and to and jid.prep(to) == own then
					to, to_kind = client_host, "own-host";
				end
				local application, instance = valid_value(rng), valid_value(rng);
				if rng:chance(0.4) then application = fuzz.hash_value(rng, application); end
				local attrs = { type = iq_type or nil, to = to, id = id };
				local iq = st.stanza("iq", attrs);
				local children = rng:weighted({ { 8, 1 }, { 1, 0 }, { 1, 2 } });
				for i = 1, children do
					if i == 1 then
						iq:tag("register", { xmlns = NS, application = application, instance = instance }):up();
					else
						iq:tag("error", { type = "cancel" })
							:tag("item-not-found", { xmlns = "urn:ietf:params:xml:ns:xmpp-stanzas" }):up():up();
					end
				end
				local expect;
				if iq_type == "result" or iq_type == "error" then
					expect = "none";
				elseif iq_type ~= "set" and iq_type ~= "get" then
					expect = "answer";
				elseif children == 1 and module_host(to) then
					expect = "module";
				else
					expect = "answer";
				end
				return {
					kind = ("type=%s to=%s children=%d"):format(tostring(iq_type), to_kind, children),
					client_host = client_host, host = module_host(to), type = iq_type, expect = expect,
					application = application and as_parsed(application), instance = instance and as_parsed(instance),
					stanza = iq,
				};
			end));
			finish();
		end);
	end);

	---------------------------------------------------------------------------
	-- HTTP (docs/design.md, "HTTP semantics")
	---------------------------------------------------------------------------
	describe("HTTP requests", function()
		local POST_STATUSES = set_of({ 201, 400, 404, 413, 429, 503 });
		-- The Host header as Prosody reads it: leading spaces dropped, repeated
		-- headers joined with ",", a port cut off. nil when there is none.
		local function host_of(request)
			local value;
			for _, header in ipairs(request.headers) do
				if header[1]:lower() == "host" then
					local v = header[2]:gsub("^ +", "");
					value = value and (value .. "," .. v) or v;
				end
			end
			return value and (value:gsub(":%d+$", ""));
		end

		-- The body Prosody hands over: Content-Length bytes of what was sent (0 when
		-- the header is missing or not a number).
		local function effective_body(request)
			local length;
			for _, header in ipairs(request.headers) do
				if header[1]:lower() == "content-length" then
					length = length and (length .. "," .. header[2]:gsub("^ +", "")) or header[2]:gsub("^ +", "");
				end
			end
			local n = math.tointeger(tonumber(length or ""));
			return (request.body or ""):sub(1, n or 0);
		end

		-- The RFC 8030 request headers and what makes them valid (issue 7: TTL a
		-- non-negative integer, Urgency one of four words, Topic 1 to 32 characters
		-- of the base64url alphabet). "unclear" where HTTP and the rule leave room:
		-- whitespace HTTP would trim but Prosody keeps, letter case, repeated fields.
		local URGENCIES = set_of({ "very-low", "low", "normal", "high" });
		local RULES = {
			ttl = function(v)
				if v:match("^%d+$") then return "valid"; end
				return v:match("^[ \t]*%d+[ \t]*$") and "unclear" or "invalid";
			end,
			urgency = function(v)
				if URGENCIES[v] then return "valid"; end
				return URGENCIES[v:lower():match("^[ \t]*(.-)[ \t]*$")] and "unclear" or "invalid";
			end,
			topic = function(v)
				if v:match("^[%w_-]+$") and #v <= 32 then return "valid"; end
				local trimmed = v:match("^[ \t]*(.-)[ \t]*$");
				return (trimmed == "" or trimmed:match("^[%w_-]+$") and #trimmed <= 32) and "unclear" or "invalid";
			end,
		};

		-- "valid", "unclear" or "invalid": the worst of the request's TTL, Urgency
		-- and Topic as Prosody hands them over (leading spaces dropped, repeated
		-- fields joined with ",").
		local function header_verdict(request)
			local values, repeated = {}, {};
			for _, header in ipairs(request.headers) do
				local name = header[1]:lower();
				if RULES[name] then
					local value = header[2]:gsub("^ +", "");
					repeated[name] = values[name] ~= nil;
					values[name] = values[name] and (values[name] .. "," .. value) or value;
				end
			end
			local verdict = "valid";
			for name, value in pairs(values) do
				local v = RULES[name](value);
				if v == "invalid" and repeated[name] then v = "unclear"; end
				if v == "invalid" then return "invalid"; end
				if v == "unclear" then verdict = "unclear"; end
			end
			return verdict;
		end

		-- Every check on one exchange. case: { request, kind }.
		-- pushes: what the phones got meanwhile ({ phone, push }), each answered with a result.
		local function check_exchange(case, response, err, pushes)
			local request = case.request;
			if not response then return "no HTTP response: " .. tostring(err); end
			local status = response.status;
			if status == 500 then return "500"; end
			if up.traceback_in(response.body) then return "a traceback in the body: " .. fuzz.show(response.body); end
			if status == 503 or status == 429 then
				local retry = response.headers["retry-after"];
				if not (retry and retry:match("^%d+$")) then
					return status .. " without a Retry-After of seconds: " .. tostring(retry);
				end
			end

			local method = request.method;
			local host = host_of(request);
			local route = fuzz.route(request.target);
			local allowed, token;
			if route == nil then
				-- absolute-form or "*": Prosody takes the host from the URL.
				allowed = method == "POST" and POST_STATUSES or set_of({ 200, 301, 400, 404, 405 });
			elseif route.path == nil then
				allowed = set_of({ 400 });
			elseif host == nil then
				allowed = set_of({ 400 });
			elseif not BY_NAME[host] then
				allowed = set_of({ 404 });
			elseif route.route == "/push" then
				allowed = set_of({ 301, 404 });
			elseif route.route == "/" then
				-- Prosody's own page.
				allowed = set_of({ 200 });
			elseif route.route:sub(1, 6) ~= "/push/" then
				allowed = set_of({ 404 });
			else
				token = route.token;
				if method == "GET" or method == "HEAD" then
					allowed = set_of({ 200 });
				elseif method == "OPTIONS" then
					allowed = set_of({ 200, 204 });
				elseif method == "PUT" or method == "DELETE" or method == "PATCH" then
					allowed = set_of({ 405 });
				elseif method ~= "POST" then
					allowed = set_of({ 404, 405 });
				end
			end

			local registration = token and tokens[token];
			local needs_push = false;
			if method == "POST" and token then
				local body = effective_body(request);
				if registration and registration.host ~= host then
					-- Each host has its own store and keys.
					allowed = set_of({ 404 });
				elseif registration then
					if #body > MAX_BODY then
						allowed = set_of({ 413 });
					else
						local verdict = header_verdict(request);
						if verdict == "invalid" then
							allowed = set_of({ 400 });
						else
							allowed = set_of({ 201, 429 });
							if verdict == "unclear" then allowed[400] = true; end
						end
						-- The distributor is asked once the request is accepted, and then it
						-- decides the status.
						needs_push = allowed[status] and status ~= 400 and status ~= 429;
					end
				elseif not BY_NAME[host].aliases then
					allowed = set_of({ 404 });
				else
					allowed = POST_STATUSES;
				end
			end

			if not allowed[status] then
				return ("status %d, allowed: %s"):format(status, shown_set(allowed));
			end
			if needs_push and #pushes == 0 then
				return ("%d without a push to the distributor"):format(status);
			end

			-- The pushes must match the status (docs/design.md, "Protocol" and "HTTP semantics").
			if #pushes > 1 then return #pushes .. " pushes for one request"; end
			local push = pushes[1];
			if push then
				if method ~= "POST" then return method .. " caused a push"; end
				if status ~= 201 and status ~= 429 then
					return ("the distributor answered with a result, the app server got %d"):format(status);
				end
				local payload = push.push:get_child("push", NS);
				local body = effective_body(request);
				if base64.decode(payload:get_text()) ~= body then
					return "the push does not carry the body byte for byte";
				end
				if registration then
					if payload.attr.application ~= registration.application or payload.attr.instance ~= registration.instance then
						return "the push names another application or instance";
					end
					if push.push.attr.from ~= registration.host or push.push.attr.to ~= registration.phone.full_jid then
						return ("push from %s to %s"):format(tostring(push.push.attr.from), tostring(push.push.attr.to));
					end
				end
			elseif status == 201 then
				return "201 without a push";
			end
			if status == 201 then
				-- RFC 8030 §5: the message's own URL, and how long it is kept.
				if not (response.headers["ttl"] or ""):match("^%d+$") then
					return "201 without a TTL header of seconds: " .. tostring(response.headers["ttl"]);
				end
				if (response.headers["location"] or "") == "" then return "201 without a Location"; end
			end

			if method == "GET" and status == 200 and token then
				if not (response.headers["content-type"] or ""):match("^application/json") then
					return "discovery without Content-Type application/json: " .. tostring(response.headers["content-type"]);
				end
				local ok, decoded = pcall(json.decode, response.body);
				if not ok or not deepcompare(decoded, DISCOVERY, true) then
					return "discovery body: " .. fuzz.show(response.body);
				end
			end
			if status == 405 then
				local allow = (response.headers["allow"] or ""):upper();
				if not allow:find("POST", 1, true) then return "405 without POST in Allow: " .. allow; end
			end
			return nil;
		end

		-- Sends one case and checks it; a failure message names the input.
		local function exchange(case)
			answered = {};
			local response, err = fuzz.request(server.http_port, case.request, case.timeout or 10);
			local pushes = answered;
			answered = {};
			tally(response and tostring(response.status) or "no response");
			local problem = check_exchange(case, response, err, pushes);
			if problem then
				return problem .. "\n  request (" .. (case.kind or "?") .. "): " .. fuzz.show_request(case.request);
			end
		end

		-- Headers every request carries unless a case says otherwise.
		local function base_headers(host, body)
			local headers = { { "Host", host } };
			if body then headers[#headers + 1] = { "Content-Length", tostring(#body) }; end
			headers[#headers + 1] = { "Connection", "close" };
			return headers;
		end

		-- A registration to push to.
		local function any_live(rng)
			local host = rng:pick(HOSTS).name;
			return rng:pick(live[host]);
		end

		it("answers random methods with the statuses docs/design.md (HTTP semantics) allows", function()
			run_category("methods", function(rng)
				local registration = any_live(rng);
				local method = fuzz.method(rng);
				local target = rng:weighted({
					{ 5, registration.target }, { 3, "/push/" .. fuzz.b64url(rng:bytes(rng:int(1, 40))) }, { 1, "/push/" },
				});
				local body = (method ~= "GET" and method ~= "HEAD" and rng:chance(0.7)) and rng:bytes(rng:int(0, 200)) or nil;
				return exchange({
					kind = method,
					request = { method = method, target = target, headers = base_headers(registration.host, body), body = body },
				});
			end);
		end);

		-- A Host header value for a request to host.
		local function host_header(rng, host)
			return rng:weighted({
				{ 80, function() return host, "own"; end },
				{ 5, function() return rng:pick(HOST_NAMES), "served"; end },
				{ 3, function() return host .. ":" .. server.http_port, "with-port"; end },
				{ 3, function() return rng:pick({ "unknown.test", "localhost", "127.0.0.1", "[::1]", host .. "." }), "unknown"; end },
				{ 2, function() return host:upper(), "upper-case"; end },
				{ 2, function() return nil, "missing"; end },
				{ 3, function() return fuzz.garbage(rng, rng:int(0, 30)), "garbage"; end },
				{ 2, function() return "  " .. host, "leading-spaces"; end },
			})();
		end

		it("answers mutated endpoint paths (and Host headers) with the statuses docs/design.md (HTTP semantics) allows", function()
			run_category("paths", function(rng)
				local registration = any_live(rng);
				local target, target_kind = fuzz.target(rng, registration.target);
				local method = rng:weighted({ { 6, "POST" }, { 3, "GET" }, { 1, fuzz.method(rng) } });
				local body = method == "POST" and rng:bytes(rng:int(1, 64)) or nil;
				local host, host_kind = host_header(rng, registration.host);
				local headers = {};
				if host then headers[1] = { "Host", host }; end
				if body then headers[#headers + 1] = { "Content-Length", tostring(#body) }; end
				local version = rng:chance(0.05) and "1.0" or "1.1";
				if version == "1.1" then headers[#headers + 1] = { "Connection", "close" }; end
				return exchange({
					kind = target_kind .. ", host " .. host_kind .. ", HTTP/" .. version,
					request = { method = method, target = target, version = version, headers = headers, body = body },
				});
			end);
		end);

		local HEADER_NAMES = {};
		for name in pairs(fuzz.headers) do HEADER_NAMES[#HEADER_NAMES + 1] = name; end
		table.sort(HEADER_NAMES);

		it("answers POSTs with random and garbage headers as docs/design.md (HTTP semantics) says", function()
			run_category("headers", function(rng)
				local registration = any_live(rng);
				local body = rng:bytes(rng:int(1, 300));
				local headers = { { "Host", registration.host } };
				local kinds = {};
				for _ = 1, rng:int(1, 6) do
					local name = rng:weighted({ { 3, rng:pick({ "TTL", "Urgency", "Topic" }) }, { 4, rng:pick(HEADER_NAMES) },
						{ 1, "random" } });
					local value, verdict;
					if name == "random" then
						name, value, verdict = fuzz.random_header_name(rng), fuzz.garbage(rng, rng:int(0, 100)), "valid";
						-- Names Prosody's own handling depends on are covered separately.
						local lower = name:lower();
						if lower == "host" or lower == "content-length" or lower == "connection" or RULES[lower] then
							name = "X-" .. name;
						end
					else
						value, verdict = fuzz.headers[name](rng);
					end
					headers[#headers + 1] = { fuzz.header_name(rng, name), value };
					kinds[#kinds + 1] = name .. "=" .. verdict;
				end
				local seen = {};
				for _, header in ipairs(headers) do seen[header[1]:lower()] = true; end
				-- Content-Length spelled differently, or shorter than the body: Prosody
				-- reads that many bytes (the rest must not look like another request head).
				-- Never longer (Prosody would wait for the rest) nor negative (Prosody's
				-- parser then fails an assertion in util.dbuffer, logs an error with a
				-- traceback and never answers: its bug, not the module's).
				local length = tostring(#body);
				local length_kind = rng:weighted({ { 8, "exact" }, { 1, "spelled" }, { 1, "shorter" }, { 1, "not-a-number" } });
				if length_kind == "spelled" then
					length = rng:pick({ "0" .. length, "+" .. length, length .. " ", ("0x%x"):format(#body), " " .. length });
				elseif length_kind == "shorter" then
					length = tostring(rng:int(0, #body - 1));
				elseif length_kind == "not-a-number" then
					length = rng:pick({ "abc", "", "1,1", "many" });
				end
				if length_kind ~= "exact" and body:sub((math.tointeger(tonumber(length)) or 0) + 1):find("\r\n\r\n", 1, true) then
					length = tostring(#body);
				end
				headers[#headers + 1] = { "Content-Length", length };
				kinds[#kinds + 1] = "Content-Length " .. length_kind;
				if not seen.connection then headers[#headers + 1] = { "Connection", "close" }; end
				return exchange({
					kind = table.concat(kinds, " "),
					request = { method = "POST", target = registration.target, headers = headers, body = body },
				});
			end);
		end);

	end);

	---------------------------------------------------------------------------
	-- Afterwards
	---------------------------------------------------------------------------
	describe("afterwards", function()
		it("keeps every client connected", function()
			assert.same({}, all_closed_clients());
		end);

		for _, host in ipairs(HOSTS) do
			it(("registers and delivers a push with the exact payload on %s (%s backend)"):format(host.name, host.backend), function()
				local registration = register(host.name);
				local body = fuzz.rng(seed, "final", host.name):bytes(777);
				answered = {};
				local response = assert(fuzz.request(server.http_port, {
					method = "POST", target = registration.target,
					headers = { { "Host", host.name }, { "Content-Length", tostring(#body) }, { "Connection", "close" } },
					body = body,
				}));
				assert.equal(201, response.status);
				assert.equal(1, #answered);
				local push = answered[1].push;
				assert.equal(host.name, push.attr.from);
				assert.equal(phones[host.name].full_jid, push.attr.to);
				local payload = push:get_child("push", NS);
				assert.equal(registration.application, payload.attr.application);
				assert.equal(registration.instance, payload.attr.instance);
				assert.is_true(base64.decode(payload:get_text()) == body, "the payload differs from the body posted");
				answered = {};
			end);
		end

		it("leaves a log without Lua errors", function()
			server:assert_log_clean();
		end);
	end);
end);
