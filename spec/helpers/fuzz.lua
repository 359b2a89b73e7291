-- Generators for spec/server/fuzz_spec.lua (and the random claims of spec/unit/backends_spec.lua): a seeded PRNG, string mutations, the raw
-- inputs a registration or an HTTP request is made of, a raw HTTP sender that
-- passes them to the server unchanged, and a model of how Prosody routes them.
--
--   local seed = fuzz.seed()                    MUP_FUZZ_SEED, or a fresh one
--   local rng = fuzz.rng(seed, "http", 17)      one independent stream per case
--   rng:int(1, 6), rng:chance(0.1), rng:pick(list), rng:weighted({ { 3, a }, { 1, b } })
--   rng:bytes(n), rng:from(alphabet, n), rng:xml_text(n)
--   fuzz.mutate(rng, s, alphabet)               1..4 edits: flip, drop, duplicate, insert, ...
--   fuzz.percent_encode(rng, s, share)          some bytes as %XX
--   fuzz.hash_value, fuzz.jid, fuzz.method, fuzz.target, fuzz.headers[name],
--   fuzz.garbage, fuzz.header_name, fuzz.random_header_name
--                                               inputs, each with the name of its kind
--   fuzz.request(port, request, timeout)        -> response | nil, error (raw HTTP/1.x)
--   fuzz.route(target)                          path, route and token as Prosody and the module see them
--   fuzz.show(bytes, max), fuzz.show_request(r) printable, truncated, for failure messages
--   fuzz.budget(count, seconds)                 case numbers, bounded both ways
--
-- Inputs are plain data (strings, lists of header pairs), so a failing case can
-- be printed exactly and replayed with MUP_FUZZ_SEED. Everything generated is
-- something Prosody's parsers take (valid UTF-8 XML text, no whitespace in a
-- request target, no CR/LF in a header value, a request head under Prosody's
-- 10 KiB limit): what is fuzzed is the module, not Prosody's framing.

require "prosody_libs";
local socket = require "socket";
local http = require "http_client";
local urldecode = require "util.http".urldecode;

local fuzz = {};

-- Seeds --------------------------------------------------------------------

-- The run's seed: MUP_FUZZ_SEED to replay one, else one from the clock.
function fuzz.seed()
	local given = os.getenv("MUP_FUZZ_SEED");
	if given and given ~= "" then
		return assert(math.tointeger(tonumber(given)), "MUP_FUZZ_SEED must be an integer: " .. given);
	end
	return math.floor(socket.gettime() * 1000) % 1000000000;
end

-- How many more cases than the defaults to run (MUP_FUZZ_SCALE=10 for a long run).
function fuzz.scale()
	return tonumber(os.getenv("MUP_FUZZ_SCALE") or "") or 1;
end

-- PRNG -----------------------------------------------------------------------

-- SplitMix64 (Lua 5.4 integers wrap around, as the algorithm wants).
local GOLDEN = 0x9E3779B97F4A7C15;

local function mix(z)
	z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9;
	z = (z ~ (z >> 27)) * 0x94D049BB133111EB;
	return z ~ (z >> 31);
end

-- FNV-1a, to turn a label into a number.
local function hash(label)
	local h = 0xCBF29CE484222325;
	label = tostring(label);
	for i = 1, #label do
		h = (h ~ label:byte(i)) * 0x100000001B3;
	end
	return h;
end

local rng_mt = {};
rng_mt.__index = rng_mt;

-- A stream of its own for (seed, labels...): cases do not depend on each other.
function fuzz.rng(seed, ...)
	local state = mix(seed + GOLDEN);
	for i = 1, select("#", ...) do
		state = mix(state ~ hash(select(i, ...)));
	end
	return setmetatable({ state = state }, rng_mt);
end

function rng_mt:next()
	self.state = self.state + GOLDEN;
	return mix(self.state);
end

-- An integer in [lo, hi].
function rng_mt:int(lo, hi)
	assert(hi >= lo, "rng:int: empty range");
	return lo + (self:next() >> 1) % (hi - lo + 1);
end

function rng_mt:chance(p)
	return (self:next() >> 11) * 2.0 ^ -53 < p;
end

function rng_mt:pick(list)
	return list[self:int(1, #list)];
end

-- choices: { { weight, value }, ... } -> a value.
function rng_mt:weighted(choices)
	local total = 0;
	for _, choice in ipairs(choices) do total = total + choice[1]; end
	local n = self:int(1, total);
	for _, choice in ipairs(choices) do
		n = n - choice[1];
		if n <= 0 then return choice[2]; end
	end
end

function rng_mt:bytes(n)
	local parts = {};
	for i = 1, (n + 7) // 8 do parts[i] = string.pack("<j", self:next()); end
	return table.concat(parts):sub(1, n);
end

function rng_mt:from(alphabet, n)
	local out = {};
	for i = 1, n do
		local k = self:int(1, #alphabet);
		out[i] = alphabet:sub(k, k);
	end
	return table.concat(out);
end

-- One character XML 1.0 allows, UTF-8 encoded, from every plane.
function rng_mt:xml_char()
	local range = self:weighted({
		{ 6, { 0x20, 0x7E } },
		{ 1, { 0x09, 0x0A } },
		{ 2, { 0xA0, 0x7FF } },
		{ 2, { 0x800, 0xD7FF } },
		{ 1, { 0xE000, 0xFFFD } },
		{ 1, { 0x10000, 0x10FFFF } },
	});
	return utf8.char(self:int(range[1], range[2]));
end

function rng_mt:xml_text(n)
	local out = {};
	for i = 1, n do out[i] = self:xml_char(); end
	return table.concat(out);
end

-- Alphabets -----------------------------------------------------------------

fuzz.BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
fuzz.BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
fuzz.ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
fuzz.PRINTABLE = " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";
-- What may appear raw in an HTTP request target: no whitespace (Prosody's request
-- line pattern is "%S+"), anything else goes, bytes >= 0x80 included.
fuzz.PATH_BYTES = (function()
	local bytes = {};
	for b = 0, 255 do
		local c = string.char(b);
		if not c:find("%s") then bytes[#bytes + 1] = c; end
	end
	return table.concat(bytes);
end)();

-- Mutations -----------------------------------------------------------------

local function char_at(s, i) return s:sub(i, i); end

local edits = {
	-- one character replaced by another of the alphabet
	function(rng, s, alphabet)
		if #s == 0 then return s; end
		local i = rng:int(1, #s);
		local c = rng:from(alphabet, 1);
		if c == char_at(s, i) then c = rng:from(alphabet, 1); end
		return s:sub(1, i - 1) .. c .. s:sub(i + 1);
	end,
	-- one character dropped
	function(rng, s)
		if #s == 0 then return s; end
		local i = rng:int(1, #s);
		return s:sub(1, i - 1) .. s:sub(i + 1);
	end,
	-- one character doubled
	function(rng, s)
		if #s == 0 then return s; end
		local i = rng:int(1, #s);
		return s:sub(1, i) .. s:sub(i);
	end,
	-- one character inserted
	function(rng, s, alphabet)
		local i = rng:int(0, #s);
		return s:sub(1, i) .. rng:from(alphabet, 1) .. s:sub(i + 1);
	end,
	-- two neighbours swapped
	function(rng, s)
		if #s < 2 then return s; end
		local i = rng:int(1, #s - 1);
		return s:sub(1, i - 1) .. char_at(s, i + 1) .. char_at(s, i) .. s:sub(i + 2);
	end,
	-- cut short
	function(rng, s)
		if #s == 0 then return s; end
		return s:sub(1, rng:int(0, #s - 1));
	end,
	-- lengthened
	function(rng, s, alphabet)
		return s .. rng:from(alphabet, rng:int(1, 16));
	end,
	-- a slice repeated
	function(rng, s)
		if #s == 0 then return s; end
		local i = rng:int(1, #s);
		local j = rng:int(i, math.min(#s, i + 16));
		return s:sub(1, j) .. s:sub(i, j) .. s:sub(j + 1);
	end,
	-- a letter's case flipped
	function(rng, s)
		if #s == 0 then return s; end
		local i = rng:int(1, #s);
		local c = char_at(s, i);
		local flipped = c:lower() == c and c:upper() or c:lower();
		return s:sub(1, i - 1) .. flipped .. s:sub(i + 1);
	end,
};

-- s with 1..max_edits random edits, new characters taken from alphabet.
function fuzz.mutate(rng, s, alphabet, max_edits)
	for _ = 1, rng:int(1, max_edits or 4) do
		s = rng:pick(edits)(rng, s, alphabet or fuzz.PRINTABLE);
	end
	return s;
end

-- Each byte of s percent-encoded with probability share (hex digits in either case).
function fuzz.percent_encode(rng, s, share)
	return (s:gsub(".", function(c)
		if not rng:chance(share) then return nil; end
		local hex = ("%02X"):format(c:byte());
		if rng:chance(0.3) then hex = hex:lower(); end
		return "%" .. hex;
	end));
end

-- Raw HTTP --------------------------------------------------------------------

-- request: { method, target, version = "1.1", headers = { { name, value }, ... }, body }
-- The bytes go out exactly as given: no Host, Content-Length or Connection is added.
function fuzz.raw_request(request)
	local lines = { request.method .. " " .. request.target .. " HTTP/" .. (request.version or "1.1") };
	for _, header in ipairs(request.headers or {}) do
		lines[#lines + 1] = header[1] .. ": " .. header[2];
	end
	return table.concat(lines, "\r\n") .. "\r\n\r\n" .. (request.body or "");
end

-- Sends the request to 127.0.0.1:port and reads one response through loop, so
-- XMPP clients keep answering pushes meanwhile. -> response | nil, error.
function fuzz.request(port, request, timeout)
	return http.request({ url = "http://127.0.0.1:" .. port .. "/", method = request.method,
		raw = fuzz.raw_request(request), timeout = timeout or 10 });
end

-- Bytes made printable for a failure message: escapes, at most max characters.
function fuzz.show(bytes, max)
	max = max or 400;
	local shown = bytes;
	local cut = "";
	if #shown > max then
		cut = ("...(%d bytes in all)"):format(#bytes);
		shown = shown:sub(1, max);
	end
	shown = shown:gsub("[%c\128-\255\\]", function(c)
		if c == "\r" then return "\\r"; elseif c == "\n" then return "\\n"; elseif c == "\\" then return "\\\\"; end
		return ("\\x%02X"):format(c:byte());
	end);
	return shown .. cut;
end

-- A request as a replayable string (the body summarised when long).
function fuzz.show_request(request)
	local copy = { method = request.method, target = request.target, version = request.version,
		headers = request.headers };
	local text = fuzz.show(fuzz.raw_request(copy), 1500);
	local body = request.body or "";
	if #body > 0 then text = text .. fuzz.show(body, 120); end
	return text;
end

-- What Prosody (net/http/parser.lua and mod_http, 0.12 and 13) and the module
-- make of an origin-form request target:
--   path   the decoded path Prosody routes by: query cut at the first raw "?",
--          "//" collapsed, percent-decoded; nil when a ".." climbs above the root
--          (Prosody answers 400)
--   route  path up to a decoded "?" (the part mod_http matches against routes)
--   token  what the module resolves under /push/: the rest of the decoded path
--          and the decoded query (endpoints are /push/<8 characters>?<rest>)
-- nil for other targets (absolute-form, "*").
function fuzz.route(target)
	if target:byte(1) ~= 47 then return nil; end
	local raw_path, query = target:match("^([^?]*)%??(.*)$");
	if query == "" then query = nil; end
	local path = urldecode((raw_path:gsub("//+", "/")));
	if path:sub(1, 1) ~= "/" then path = "/" .. path; end
	local level = 0;
	for component in path:gmatch("([^/]+)/") do
		if component == ".." then
			level = level - 1;
		elseif component ~= "." then
			level = level + 1;
		end
		if level < 0 then return { path = nil }; end
	end
	return {
		path = path,
		route = path:match("^[^?]*"),
		token = path:sub(7) .. (query and urldecode(query) or ""),
	};
end

-- Generators ------------------------------------------------------------------
-- Each returns a value and the name of the kind of value it made (for counts and
-- failure messages).

local b64 = require "util.encodings".base64;

local function b64url(bytes)
	return (b64.encode(bytes):gsub("[+/=]", { ["+"] = "-", ["/"] = "_", ["="] = "" }));
end
fuzz.b64url = b64url;

-- Whitespace, letters and a non-ASCII character somewhere in s.
local function sprinkle(rng, s, what)
	local i = rng:int(0, #s);
	return s:sub(1, i) .. what .. s:sub(i + 1);
end

-- A value for the `application` or `instance` attribute: mostly near a valid
-- one (standard base64 of 32 bytes). nil means "leave the attribute out".
function fuzz.hash_value(rng, valid)
	valid = valid or b64.encode(rng:bytes(32));
	return rng:weighted({
		{ 30, function() return valid, "valid"; end },
		{ 3, function()
			-- Same length, low bits of the last character set: decoders accept it.
			local k = fuzz.BASE64:find(valid:sub(43, 43), 1, true) - 1;
			local i = k - k % 4 + rng:int(1, 3) + 1;
			return valid:sub(1, 42) .. fuzz.BASE64:sub(i, i) .. "=", "non-canonical";
		end },
		{ 14, function() return fuzz.mutate(rng, valid, fuzz.BASE64 .. "=", 3), "mutated"; end },
		{ 4, function() return fuzz.mutate(rng, valid, fuzz.PRINTABLE, 3), "mutated-printable"; end },
		{ 3, function() return sprinkle(rng, valid, rng:xml_text(rng:int(1, 3))), "unicode-inserted"; end },
		{ 5, function()
			return rng:pick({ valid:sub(1, 43), valid .. "=", valid .. "==", valid:sub(1, 42) .. "==",
				valid:sub(1, 20) .. "=" .. valid:sub(21), "=" .. valid, (valid:gsub("=", "%%3D")) }), "padding";
		end },
		{ 8, function()
			local n = rng:weighted({ { 3, rng:int(28, 36) }, { 1, rng:int(0, 64) } });
			return b64.encode(rng:bytes(n)), "base64-of-" .. n .. "-bytes";
		end },
		{ 3, function() return b64url(rng:bytes(32)), "base64url"; end },
		{ 4, function() return sprinkle(rng, valid, rng:pick({ " ", "\t", "\n", "\r\n", "  ", "    " })), "whitespace"; end },
		-- Decoders skip whitespace: these still decode to 32 bytes.
		{ 2, function() return rng:pick({ " " .. valid .. "   ", valid:sub(1, 43) .. " ", "  " .. valid .. "  " }), "padded-with-spaces"; end },
		{ 5, function() return rng:from(fuzz.PRINTABLE, rng:int(1, 100)), "printable"; end },
		{ 2, function() return rng:from(fuzz.BASE64, 44), "44-base64-characters"; end },
		{ 5, function() return rng:xml_text(rng:int(1, 60)), "unicode"; end },
		{ 1, function()
			local n = rng:int(1000, 60000);
			return rng:weighted({ { 1, rng:from(fuzz.BASE64, n) }, { 1, string.rep(valid, n // 44) } }), "huge";
		end },
		{ 2, function() return "", "empty"; end },
		{ 4, function() return nil, "missing"; end },
	})();
end

-- A JID for the `to` of an IQ. hosts: the served hosts, own: the client's full
-- JID. Only JIDs of served hosts or malformed ones: a real domain would send the
-- server into DNS and s2s.
function fuzz.jid(rng, hosts, own)
	local own_bare, own_host = own:match("^([^/]+)"), own:match("@([^/]+)");
	local node = function()
		return rng:weighted({
			{ 3, rng:from(fuzz.ALNUM, rng:int(1, 12)):lower() },
			{ 1, (rng:xml_text(rng:int(1, 8)):gsub("[%s\"&'/:<>@]", "x")) },
		});
	end
	local resource = function() return rng:xml_text(rng:int(1, 20)); end
	return rng:weighted({
		{ 35, function() return own_host, "own-host"; end },
		{ 8, function() return rng:pick(hosts), "served-host"; end },
		{ 4, function() return own_host:upper(), "host-upper-case"; end },
		{ 3, function() return own_host .. ".", "host-trailing-dot"; end },
		{ 4, function() return own_host .. "/" .. resource(), "host-with-resource"; end },
		{ 6, function() return own_bare, "own-bare-jid"; end },
		{ 4, function() return own, "own-full-jid"; end },
		{ 4, function() return own_bare .. "/" .. resource(), "own-other-resource"; end },
		{ 4, function() return "alice@" .. rng:pick(hosts) .. "/phone", "a-phone"; end },
		{ 8, function() return node() .. "@" .. rng:pick(hosts), "unknown-user"; end },
		{ 3, function() return node() .. "@" .. rng:pick(hosts) .. "/" .. resource(), "unknown-full-jid"; end },
		{ 4, function() return nil, "no-to"; end },
		{ 6, function()
			return rng:pick({ "@" .. own_host, "user@", "@", "a@b@" .. own_host, "a b@" .. own_host,
				"x@" .. own_host .. "/", own_host .. "/", string.rep("n", 1100) .. "@" .. own_host,
				"x@" .. string.rep("d", 1100), "a\"b@" .. own_host, "<x>@" .. own_host }), "malformed";
		end },
	})();
end

-- An HTTP method (Prosody's parser takes "%w+").
function fuzz.method(rng)
	return rng:weighted({
		{ 20, "POST" }, { 12, "GET" }, { 4, "PUT" }, { 4, "DELETE" }, { 4, "PATCH" }, { 4, "HEAD" },
		{ 4, "OPTIONS" }, { 2, "PROPFIND" }, { 2, "MKCOL" }, { 2, "TRACE" }, { 2, "CONNECT" }, { 1, "LINK" },
		{ 1, "PURGE" }, { 2, "post" }, { 2, "Get" }, { 2, "pOST" },
		{ 4, rng:from(fuzz.ALNUM, rng:int(1, 12)) },
		{ 1, rng:from(fuzz.ALNUM, rng:int(100, 400)) },
	});
end

-- Mutations of an endpoint's request target, "/push/<first 8>?<rest>". The
-- result never holds whitespace (Prosody's request line is "%S+ %S+ HTTP/1.x").
function fuzz.target(rng, target)
	local prefix, rest = target:match("^(/push/)(.*)$");
	local head, tail = rest:match("^([^?]*)%??(.*)$");
	local has_query = rest:find("?", 1, true) ~= nil;
	local joined = head .. tail;
	local mutations = {
		{ 14, function() return prefix .. fuzz.mutate(rng, rest, fuzz.BASE64URL .. "%.?", 3), "token-mutated"; end },
		{ 3, function() return prefix .. fuzz.mutate(rng, rest, fuzz.PATH_BYTES, 3), "token-raw-bytes"; end },
		{ 6, function()
			local share = rng:pick({ 0.05, 0.5, 1 });
			return prefix .. fuzz.percent_encode(rng, head, share) .. (has_query and "?" or "")
				.. fuzz.percent_encode(rng, tail, share), "token-percent-encoded";
		end },
		{ 2, function() return prefix .. head .. "%3F" .. tail, "question-mark-encoded"; end },
		{ 3, function() return prefix .. joined, "whole-token-in-path"; end },
		{ 2, function()
			local k = rng:int(0, #joined);
			return prefix .. joined:sub(1, k) .. "?" .. joined:sub(k + 1), "split-elsewhere";
		end },
		{ 1, function() return prefix .. "?" .. joined, "all-in-query"; end },
		{ 4, function() return fuzz.percent_encode(rng, prefix, 0.5) .. rest, "prefix-percent-encoded"; end },
		{ 2, function() return prefix .. (fuzz.percent_encode(rng, rest, 0.2):gsub("%%", "%%25")), "double-encoded"; end },
		{ 3, function()
			return prefix .. sprinkle(rng, rest, rng:pick({ "%", "%z", "%zz", "%G0", "%%", "%0", "%00", "%FF", "%C0%AF" })),
				"bad-or-odd-escape";
		end },
		{ 6, function()
			return rng:pick({ "/push/./" .. rest, "/push/../push/" .. rest, "/push/x/../" .. rest, "/./push/" .. rest,
				"/push/%2e%2e/" .. rest, "/push/..%2f" .. rest, "/push/..", "/push/../../" .. rest,
				"/push/" .. head .. "/..", "/push/" .. head .. "/.", "/../push/" .. rest, "/push/%2E/" .. rest,
				"/push/" .. head .. "/../" .. head .. (has_query and "?" or "") .. tail }),
				"dot-segments";
		end },
		{ 4, function()
			return rng:pick({ "//push/" .. rest, "/push//" .. rest, "/push///" .. rest, "//push//" .. rest }),
				"double-slashes";
		end },
		{ 6, function()
			return target .. rng:pick({ "/", "/x", "?", "?a=b", "&a=b", "#", "#frag", ";x", "%2F", "%00", "=" }),
				"suffix";
		end },
		{ 5, function()
			return rng:pick({ "/Push/", "/PUSH/", "/pus/", "/push2/", "/", "/pushx/", "/push%", "/push", "/push/" })
				.. (rng:chance(0.8) and rest or ""), "prefix-changed";
		end },
		{ 3, function() return target .. rng:from(fuzz.BASE64URL, rng:int(1000, 7000)), "long-token"; end },
		{ 1, function() return prefix .. joined .. rng:from(fuzz.BASE64URL, rng:int(1000, 7000)), "long-path-segment"; end },
		{ 2, function() return prefix .. string.rep("%41", rng:int(300, 2500)), "long-escapes"; end },
		{ 2, function() return string.rep("/a", rng:int(50, 3000)) .. target, "many-segments"; end },
		{ 2, function() return prefix .. fuzz.b64url(rng:bytes(rng:int(0, 60))), "random-token"; end },
		{ 1, function() return "http://" .. rng:pick({ "example.test", "jwt.test", "x" }) .. target, "absolute-form"; end },
		{ 1, function() return "*", "asterisk"; end },
	};
	return rng:weighted(mutations)();
end

-- Values for one request header, keyed by name. Each returns a value (no CR or
-- LF: they would end the line) and a verdict for RFC 8030 semantics: "valid",
-- "invalid" or "unclear" (a later validation may go either way).
local function garbage(rng, n)
	local out = {};
	for i = 1, n do
		out[i] = rng:weighted({
			{ 6, rng:from(fuzz.PRINTABLE, 1) },
			{ 1, string.char(rng:pick({ 0, 1, 9, 11, 12, 27, 127 })) },
			{ 2, string.char(rng:int(128, 255)) },
			{ 1, rng:xml_char() },
		});
	end
	-- CR or LF would end the header line.
	return (table.concat(out):gsub("[\r\n]", " "));
end
fuzz.garbage = garbage;

fuzz.headers = {
	TTL = function(rng)
		return rng:weighted({
			{ 8, function() return tostring(rng:pick({ 0, 1, 60, 86400, 2419200, rng:int(0, 999999999) })), "valid"; end },
			{ 2, function() return rng:pick({ "-1", "-60", "abc", "1.5", "1e3", "0x10", "60s", "+60", "١٢" }), "invalid"; end },
			{ 1, function() return "", "invalid"; end },
			{ 1, function() return rng:pick({ "60 ", "\t60", "99999999999999999999", "00060", "60,60" }), "unclear"; end },
			{ 1, function() return garbage(rng, rng:int(1, 40)), "invalid"; end },
		})();
	end,
	Urgency = function(rng)
		return rng:weighted({
			{ 8, function() return rng:pick({ "very-low", "low", "normal", "high" }), "valid"; end },
			{ 2, function() return rng:pick({ "HIGH", "Normal", "very low", "verylow", "low " }), "unclear"; end },
			{ 2, function() return rng:pick({ "urgent", "", "0", "high,low", "critical", "veryhigh" }), "invalid"; end },
			{ 1, function() return garbage(rng, rng:int(1, 40)), "invalid"; end },
		})();
	end,
	Topic = function(rng)
		return rng:weighted({
			{ 8, function() return rng:from(fuzz.BASE64URL, rng:int(1, 32)), "valid"; end },
			{ 2, function() return rng:from(fuzz.BASE64URL, rng:int(33, 200)), "invalid"; end },
			{ 2, function() return sprinkle(rng, rng:from(fuzz.BASE64URL, rng:int(1, 20)), rng:pick({ "+", "/", "=", " ", ".", "ü" })), "invalid"; end },
			{ 1, function() return "", "unclear"; end },
			{ 1, function() return garbage(rng, rng:int(1, 40)), "invalid"; end },
		})();
	end,
	["Content-Encoding"] = function(rng)
		return rng:pick({ "aes128gcm", "aesgcm", "gzip", "identity", "br", "", garbage(rng, rng:int(1, 30)) }), "valid";
	end,
	["Content-Type"] = function(rng)
		return rng:pick({ "application/octet-stream", "text/plain; charset=utf-8", "application/json",
			"multipart/form-data; boundary=x", "", garbage(rng, rng:int(1, 60)) }), "valid";
	end,
	Authorization = function(rng)
		return rng:pick({ "vapid t=" .. b64url(rng:bytes(60)) .. ", k=" .. b64url(rng:bytes(65)),
			"WebPush " .. b64url(rng:bytes(40)), "Bearer x", "", garbage(rng, rng:int(1, 80)) }), "valid";
	end,
	["Crypto-Key"] = function(rng) return "p256ecdsa=" .. b64url(rng:bytes(65)), "valid"; end,
	Encryption = function(rng) return "salt=" .. b64url(rng:bytes(16)), "valid"; end,
	Origin = function(rng)
		return rng:pick({ "https://app.example.org", "null", "http://[::1]:1", garbage(rng, rng:int(1, 30)) }), "valid";
	end,
	Connection = function(rng) return rng:pick({ "keep-alive", "close", "Upgrade", "close, TE", "" }), "valid"; end,
	Expect = function(rng) return rng:pick({ "100-continue", "x" }), "valid"; end,
	["Transfer-Encoding"] = function(rng) return rng:pick({ "identity", "gzip" }), "valid"; end,
	["X-Fuzz"] = function(rng) return garbage(rng, rng:int(0, 200)), "valid"; end,
};

-- A header name in another spelling (Prosody lowercases them).
function fuzz.header_name(rng, name)
	return rng:weighted({ { 6, name }, { 1, name:lower() }, { 1, name:upper() } });
end

-- A random header name (no whitespace or colon, as Prosody's parser requires).
function fuzz.random_header_name(rng)
	return rng:from(fuzz.ALNUM .. "-_.!#$%&'*+^`|~", rng:int(1, 30));
end

-- Case numbers 1..count, stopping early once seconds have passed. After the
-- loop, ran() says how many ran and elapsed() how long they took.
function fuzz.budget(count, seconds)
	local started = socket.gettime();
	local deadline = started + seconds;
	local n = 0;
	local state = {};
	function state.cases()
		return function()
			if n >= count or socket.gettime() > deadline then return nil; end
			n = n + 1;
			return n;
		end;
	end
	function state.ran() return n; end
	function state.elapsed() return socket.gettime() - started; end
	return state;
end

return fuzz;
