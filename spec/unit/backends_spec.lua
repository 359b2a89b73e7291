-- Unit: the registration backends (src/backends/) against Prosody's real util
-- libraries (util.id, util.jwt, util.paseto, util.jid, util.hashes) and an
-- in-memory keyval store: what reaches the store, what opens, what is refused,
-- revocation and the revocation list. The same backends in a real server are
-- in backends_spec.lua.
local prosody_libs = require "prosody_libs";
local storage = require "backends.storage";
local stateless = require "backends.stateless";
local jwt_backend = require "backends.jwt";
local paseto_backend = require "backends.paseto";
local revocation = require "backends.revocation";
local jwt = require "util.jwt";
local base64 = require "util.encodings".base64;
local sha256 = require "util.hashes".sha256;
local fuzz = require "fuzz";

local SECRET = "Qm9ndXMgc2VjcmV0IGZvciB0ZXN0cyBvbmx5ISEhIQ==";
local APPLICATION = base64.encode(("a"):rep(32));
local INSTANCE = base64.encode(("i"):rep(32));
local SUB = "alice@example.test/phone";

-- The key stores use for a token: the first 32 hex digits of its SHA-256.
local function key_of(token) return sha256(token, true):sub(1, 32); end

local function registration(overrides)
	local r = { sub = SUB, application = APPLICATION, instance = INSTANCE, exp = 2000000000, indexed = true };
	for k, v in pairs(overrides or {}) do r[k] = v; end
	return r;
end

-- A keyval store as Prosody's drivers behave for get and set (set nil deletes);
-- records every key asked for; `broken_get`/`broken_set` make it fail with that
-- message. Its setSoon is a journal's (src/journal.ts) whose turn ends at once:
-- the journal is journal_spec.lua's, and what a failed turn does to a new
-- token, endpoints_spec.lua's.
local function memory_store()
	local store = { data = {}, gets = {}, sets = {} };
	function store:get(key)
		self.gets[#self.gets + 1] = key;
		if self.broken_get then return nil, self.broken_get; end
		return self.data[key];
	end
	function store:set(key, value)
		self.sets[#self.sets + 1] = key;
		if self.broken_set then return nil, self.broken_set; end
		self.data[key] = value;
		return true;
	end
	function store:setSoon(key, value) self:set(key, value); end
	return store;
end

-- The fields a registration carries (a decoded token may carry more, such as a JWT's jti).
local function fields(claims)
	return { sub = claims.sub, application = claims.application, instance = claims.instance, exp = claims.exp, indexed = claims.indexed };
end

-- Claims a signed or sealed token may carry that the registration IQ could never have made.
local ODD_CLAIMS = {
	{ "a control byte in sub", { sub = "alice@example.test/ph\1one" } },
	{ "a newline in sub", { sub = "alice@example.test/phone\n" } },
	{ "a sub of words without a resource", { sub = "not a jid" } },
	{ "a bare JID as sub", { sub = "alice@example.test" } },
	{ "a sub not normalised", { sub = "Alice@Example.test/phone" } },
	{ "a numeric sub", { sub = 42 } },
	{ "an application of 31 bytes", { application = base64.encode(("a"):rep(31)) } },
	{ "an instance that is not base64", { instance = "not base64!" } },
	{ "no instance", { instance = false } },
	{ "an expiry that is a string", { exp = "2000000000" } },
	{ "no expiry", { exp = false } },
	{ "indexed that is not true", { indexed = "yes" } },
	-- Found by fuzzing through a server: a character XML forbids reached the push IQ and
	-- closed the distributor's stream; bytes that are not UTF-8 made util.stanza raise (500);
	-- a sub of "@" was relayed into the void until the IQ timeout.
	{ "a control byte XML forbids in application", { application = "a\31b" } },
	{ "an application that is not UTF-8", { application = "a\255b" } },
	{ "an instance with a NUL byte appended", { instance = INSTANCE .. "\0" } },
	{ "a sub of a lone @", { sub = "@" } },
};
local function odd(overrides)
	local claims = registration(overrides);
	for k, v in pairs(claims) do
		if v == false then claims[k] = nil; end
	end
	return claims;
end

-- base64url's alphabet, by value.
local B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

-- The token with a bit set that base64url leaves unused in its last character
-- (decoders ignore it, so it decodes to the same bytes); nil when the length
-- leaves no such bit.
local function spare_bit_set(token, first)
	local rest = (#token - first + 1) % 4;
	if rest ~= 2 and rest ~= 3 then return nil; end
	local value = B64URL:find(token:sub(-1), 1, true) - 1;
	local changed = B64URL:sub(value + 2, value + 2); -- the lowest bit, unused in both cases
	return token:sub(1, -2) .. changed;
end

-- Spellings of a genuine token that are not the one canonical string: a decoder
-- may accept them, but the caches, buckets and revocation list would see a new key.
local function variants(token, first)
	local list = {
		{ "a dot appended", token .. "." },
		{ "a dot and a character appended", token .. ".x" },
		{ "a footer appended", token .. ".Zm9vdGVy" },
		{ "padding appended", token .. "=" },
		{ "two padding characters appended", token .. "==" },
		{ "a NUL byte appended", token .. "\0" },
		{ "a newline appended", token .. "\n" },
		{ "a space appended", token .. " " },
		{ "a space in front", " " .. token },
		{ "a plus for a dash", (token:gsub("%-", "+")) },
		{ "a percent sign appended", token .. "%" },
	};
	local spare = spare_bit_set(token, first);
	if spare then list[#list + 1] = { "an unused bit set in its last character", spare }; end
	local kept = {};
	for _, case in ipairs(list) do
		if case[2] ~= token then kept[#kept + 1] = case; end
	end
	return kept;
end

-- The token with one character from the middle on changed (it stays well-formed, only wrong).
local function tamper(token, at)
	local i = at or math.floor(#token / 2);
	local c = token:sub(i, i);
	return token:sub(1, i - 1) .. (c == "A" and "B" or "A") .. token:sub(i + 1);
end

describe("the storage backend", function()
	it("issues a 24-character base64url token and keeps the registration under its key, never under the token", function()
		local store = memory_store();
		local backend = storage.storageBackend(store);
		local token = backend.issue(registration());
		assert.truthy(token:match("^[%w_-]+$") and #token == 24, token);
		assert.same(registration(), store.data[key_of(token)]);
		assert.is_nil(store.data[token]);
		assert.same({ key_of(token) }, store.sets);
		assert.same(registration(), fields((backend.open(token))));
	end);

	it("issues a different token each time", function()
		local backend = storage.storageBackend(memory_store());
		assert.are_not.equal(backend.issue(registration()), backend.issue(registration()));
	end);

	-- Not a token it could have issued: refused before the store is asked.
	local shapes = {
		{ "an empty token", "" },
		{ "a token of 33 characters", ("a"):rep(33) },
		{ "a token with a dot", "abcdefgh.ijklmnop" },
		{ "a token with a slash", "abcdefgh/ijklmnop" },
		{ "a path", "../../etc/passwd" },
		{ "a token with a space", "abcd efgh" },
		{ "a token with a percent sign", "abcd%2Fef" },
		{ "a token with a NUL byte", "abcd\0efgh" },
		{ "a token with a plus", "abcd+efgh" },
		{ "a PASETO token", "v3.local.AbCdEf" },
		{ "a JWT", jwt.sign(SECRET, registration()) },
	};
	for _, case in ipairs(shapes) do
		it("refuses " .. case[1] .. " as invalid without asking the store", function()
			local store = memory_store();
			local backend = storage.storageBackend(store);
			assert.same({ nil, "invalid" }, { backend.open(case[2]) });
			assert.same({}, store.gets);
		end);
	end

	it("takes its own 24-character tokens and the reference module's 32-character ones as well-formed", function()
		local backend = storage.storageBackend(memory_store());
		assert.is_true(backend.wellFormed(backend.issue(registration())));
		assert.is_true(backend.wellFormed(("R"):rep(16) .. ("_-"):rep(8)));
		assert.is_false(backend.wellFormed(("R"):rep(25)));
		assert.is_false(backend.wellFormed(("R"):rep(23)));
	end);

	describe("refuses, without asking the store, a variant of a token", function()
		local store = memory_store();
		local backend = storage.storageBackend(store);
		local token = backend.issue(registration());
		for _, case in ipairs(variants(token, 1)) do
			it("with " .. case[1], function()
				store.gets = {};
				assert.is_false(backend.wellFormed(case[2]));
				assert.same({ nil, "invalid" }, { backend.open(case[2]) });
				assert.same({}, store.gets);
			end);
		end
	end);

	it("answers invalid for a well-formed token it never issued", function()
		local store = memory_store();
		local backend = storage.storageBackend(store);
		assert.same({ nil, "invalid" }, { backend.open("AbCdEfGhIjKlMnOpQrStUvWx") });
		assert.same({ key_of("AbCdEfGhIjKlMnOpQrStUvWx") }, store.gets);
	end);

	for _, case in ipairs(ODD_CLAIMS) do
		it("answers invalid for a stored record with " .. case[1], function()
			local store = memory_store();
			local backend = storage.storageBackend(store);
			local token = "AbCdEfGhIjKlMnOpQrStUvWx";
			store.data[key_of(token)] = odd(case[2]);
			assert.same({ nil, "invalid" }, { backend.open(token) });
		end);
	end

	it("finds a record of the reference module under its 32-character token, and deletes it on revoke", function()
		local store = memory_store();
		local backend = storage.storageBackend(store);
		local token = ("R"):rep(16) .. ("_-"):rep(8);
		store.data[token] = odd({ indexed = false });
		assert.equal(SUB, backend.open(token).sub);
		assert.same({ key_of(token), token }, store.gets);
		assert.same({ true }, { backend.revoke(token, 2000000000, 1) });
		assert.is_nil(store.data[token]);
		assert.same({ nil, "invalid" }, { backend.open(token) });
	end);

	it("reports a revoke of a reference-module token as failed when its own record cannot be deleted", function()
		local store = memory_store();
		local backend = storage.storageBackend(store);
		local token = ("R"):rep(16) .. ("_-"):rep(8);
		store.data[token] = odd({ indexed = false });
		-- A driver names the key in its message; that key is the token, so the message is withheld.
		store.broken_set = "cannot write " .. token;
		local ok, reason = backend.revoke(token, 2000000000, 1);
		assert.is_false(ok);
		assert.truthy(reason:find("reference module", 1, true), reason);
		assert.is_nil(reason:find(token, 1, true), "the token is in the reason: " .. reason);
		store.broken_set = nil;
		assert.equal(SUB, backend.open(token).sub, "the record went although revoke said it failed");
	end);

	it("looks a token of another length up only under its key", function()
		local store = memory_store();
		local backend = storage.storageBackend(store);
		local token = "AbCdEfGhIjKlMnOpQrStUvWx";
		store.data[token] = registration();
		assert.same({ nil, "invalid" }, { backend.open(token) });
		assert.same({ key_of(token) }, store.gets);
	end);

	it("revoke deletes the token's record", function()
		local store = memory_store();
		local backend = storage.storageBackend(store);
		local token, other = backend.issue(registration()), backend.issue(registration());
		assert.same({ true }, { backend.revoke(token, 2000000000, 1) });
		assert.is_nil(store.data[key_of(token)]);
		assert.same({ nil, "invalid" }, { backend.open(token) });
		assert.truthy((backend.open(other)), "another token went too");
	end);

	it("revokeKey deletes the record with that key", function()
		local store = memory_store();
		local backend = storage.storageBackend(store);
		local token = backend.issue(registration());
		assert.same({ true }, { backend.revokeKey(key_of(token), 2000000000, 1) });
		assert.same({ nil, "invalid" }, { backend.open(token) });
	end);

	it("dropRecord deletes the record with that key", function()
		local store = memory_store();
		local backend = storage.storageBackend(store);
		local token = backend.issue(registration());
		backend.dropRecord(key_of(token));
		assert.same({ nil, "invalid" }, { backend.open(token) });
	end);

	describe("when the store fails", function()
		it("open answers failed with the store's message", function()
			local store = memory_store();
			local backend = storage.storageBackend(store);
			local token = backend.issue(registration());
			store.broken_get = "disk on fire";
			assert.same({ nil, "failed", "disk on fire" }, { backend.open(token) });
		end);

		it("open of a reference-module token answers failed when its second lookup fails, withholding the store's message", function()
			local store = memory_store();
			local backend = storage.storageBackend(store);
			local get = store.get;
			-- Drivers name the key in their messages (a file name, a row): here that key is the token.
			function store:get(key)
				if #key == 32 and not key:match("^%x+$") then return nil, "cannot read " .. key; end
				return get(self, key);
			end
			local token = ("R"):rep(32);
			local claims, failure, detail = backend.open(token);
			assert.same({ nil, "failed" }, { claims, failure });
			assert.truthy(detail:find("reference module", 1, true), detail);
			assert.is_nil(detail:find(token, 1, true), "the token is in the message: " .. detail);
		end);

		it("revoke and revokeKey answer false and the store's message", function()
			local store = memory_store();
			local backend = storage.storageBackend(store);
			local token = backend.issue(registration());
			store.broken_set = "disk full";
			assert.same({ false, "disk full" }, { backend.revoke(token, 2000000000, 1) });
			assert.same({ false, "disk full" }, { backend.revokeKey(key_of(token), 2000000000, 1) });
		end);
	end);
end);

-- The jwt backend, and paseto where this Prosody has util.paseto with v3.local.
local ok_paseto, paseto_lib = pcall(require, "util.paseto");
local v3 = ok_paseto and type(paseto_lib) == "table" and paseto_lib.v3_local or nil;

describe("util.paseto", function()
	if prosody_libs.major >= 13 then
		it("has v3.local on Prosody 13, so the paseto backend is specified here", function()
			assert.is_table(v3);
		end);
	else
		it("lacks v3.local on Prosody 0.12, so the paseto backend does not apply", function()
			assert.is_nil(v3);
		end);
	end
end);

-- name, a fresh codec on `store`, and how to seal arbitrary claims with that codec's key
local codecs = {
	{
		"jwt",
		function() return jwt_backend.jwtCodec(SECRET); end,
		function(claims) return jwt.sign(SECRET, claims); end,
	},
};
if v3 then
	local key = v3.new_key();
	local encrypt = v3.init(key);
	codecs[#codecs + 1] = {
		"paseto",
		function() return paseto_backend.pasetoCodec(v3, key); end,
		function(claims) return (encrypt(claims)); end,
	};
end

for _, c in ipairs(codecs) do
	local name, new_codec, seal = c[1], c[2], c[3];

	local function new_backend(store)
		store = store or memory_store();
		local list = assert(revocation.loadRevocations(store));
		return stateless.statelessBackend(new_codec(), list), store;
	end

	describe("the " .. name .. " backend", function()
		it("issues a token that opens to the user only (the index entry holds the rest), and a different one each time", function()
			local backend = new_backend();
			local token = backend.issue(registration());
			assert.is_string(token);
			assert.same({ u = "alice@example.test" }, (backend.open(token)));
			assert.are_not.equal(token, backend.issue(registration()));
		end);

		-- README, "Backends": base + "?" + the token, for a 40-character bare JID.
		it("issues a token for a 40-character bare JID short enough for a 255-character endpoint", function()
			local jid = ("l"):rep(40 - #"@example.test") .. "@example.test";
			local token = new_backend().issue(registration({ sub = jid .. "/a-long-resource-that-is-not-in-the-token" }));
			local length = #"http://localhost:5280/push/" + #"?" + #token;
			assert.is_true(length <= 255, length .. " characters");
		end);

		-- Claims a genuine short token may carry that registration never makes.
		for _, case in ipairs({
			{ "a full JID", "alice@example.test/phone" },
			{ "a JID not normalised", "Alice@example.test" },
			{ "a control byte", "ali\1ce@example.test" },
			{ "a number", 42 },
		}) do
			it("answers invalid for a genuine token whose user is " .. case[1], function()
				assert.same({ nil, "invalid" }, { new_backend().open(seal({ u = case[2] })) });
			end);
		end

		it("keeps nothing in the store for a token", function()
			local backend, store = new_backend();
			backend.issue(registration());
			assert.same({}, store.sets);
			backend.dropRecord("0123456789abcdef0123456789abcdef");
			assert.same({}, store.sets);
		end);

		local tampered = {
			{ "a character changed in the middle", function(token) return tamper(token); end },
			{ "its last character changed", function(token) return tamper(token, #token); end },
			{ "cut short", function(token) return token:sub(1, -5); end },
			{ "with text appended", function(token) return token .. "AAAA"; end },
			{ "nothing at all", function() return ""; end },
			{ "garbage", function() return "hello.world.again"; end },
		};
		for _, case in ipairs(tampered) do
			it("answers invalid for a token " .. case[1], function()
				local backend = new_backend();
				local token = backend.issue(registration());
				local changed = case[2](token);
				assert.are_not.equal(token, changed);
				assert.same({ nil, "invalid" }, { backend.open(changed) });
			end);
		end

		-- Where the base64url part that ends the token starts: after "v3.local.", or
		-- a JWT's 43-character signature.
		local function first_of(token)
			return name == "paseto" and 10 or #token - 42;
		end

		it("takes its tokens as well-formed", function()
			local backend = new_backend();
			for _ = 1, 8 do assert.is_true(backend.wellFormed(backend.issue(registration()))); end
		end);

		for _, revoked in ipairs({ false, true }) do
			describe("refuses a variant of a " .. (revoked and "revoked" or "valid") .. " token", function()
				local backend = new_backend();
				local token = backend.issue(registration());
				if revoked then backend.revoke(token, 2000000000, 1000); end
				for _, case in ipairs(variants(token, first_of(token))) do
					it("with " .. case[1], function()
						assert.is_false(backend.wellFormed(case[2]));
						assert.same({ nil, "invalid" }, { backend.open(case[2]) });
					end);
				end
			end);
		end

		it("answers invalid for a token of another key", function()
			local other;
			if name == "jwt" then
				other = jwt.sign("another secret", registration());
			else
				other = (v3.init(v3.new_key()))(registration());
			end
			assert.same({ nil, "invalid" }, { new_backend().open(other) });
		end);

		it("opens claims sealed with its key (the check below is on the claims, not the seal)", function()
			assert.same(registration(), fields((new_backend().open(seal(registration())))));
		end);

		for _, case in ipairs(ODD_CLAIMS) do
			it("answers invalid for a genuine token with " .. case[1], function()
				assert.same({ nil, "invalid" }, { new_backend().open(seal(odd(case[2]))) });
			end);
		end

		-- What the fuzz spec once did through a server: random claims sealed with the real
		-- key. Whatever they hold, open answers, and opens only the registration's own values.
		it("opens random claims sealed with its key only when every field is the registration's", function()
			local rng = fuzz.rng(1, "claims", name);
			local backend = new_backend();
			local function odd_value(valid)
				return rng:weighted({
					{ 6, function() return valid, true; end },
					{ 1, function() return rng:from(fuzz.PRINTABLE, rng:int(0, 60)), false; end },
					{ 1, function() return rng:xml_text(rng:int(1, 30)), false; end },
					{ 1, function() return rng:pick({ "", "@", "a@b@example.test", "@example.test", "/x" }), false; end },
					{ 1, function() return rng:pick({ 42, true, { 1, 2 }, { a = "b" } }), false; end },
					{ 1, function() return nil, false; end },
					{ 1, function() return rng:from(fuzz.BASE64, rng:int(700, 3000)), false; end },
				})();
			end
			for n = 1, 300 do
				local claims, all_valid = registration(), true;
				for _, field in ipairs({ "sub", "application", "instance" }) do
					local value, valid = odd_value(claims[field]);
					claims[field], all_valid = value, all_valid and valid;
				end
				claims["x" .. rng:int(1, 99)] = rng:xml_text(rng:int(0, 10));
				local ok, opened, why = pcall(backend.open, seal(claims));
				assert.is_true(ok, ("case %d raised: %s"):format(n, tostring(opened)));
				if all_valid then
					assert.same(registration(), fields(opened));
				else
					assert.same({ nil, "invalid" }, { opened, why }, ("case %d opened"):format(n));
				end
			end
		end);

		it("answers revoked for a revoked token, and still opens another", function()
			local backend, store = new_backend();
			local token, other = backend.issue(registration()), backend.issue(registration());
			assert.same({ true }, { backend.revoke(token, 2000000000, 1000) });
			assert.same({ nil, "revoked" }, { backend.open(token) });
			assert.truthy((backend.open(other)));
			assert.same({ [key_of(token)] = 2000000000 }, store.data._revoked);
		end);

		it("answers revoked for a token revoked by its key", function()
			local backend = new_backend();
			local token = backend.issue(registration());
			assert.same({ true }, { backend.revokeKey(key_of(token), 2000000000, 1000) });
			assert.same({ nil, "revoked" }, { backend.open(token) });
		end);

		it("answers invalid, not revoked, for a tampered revoked token", function()
			local backend = new_backend();
			local token = backend.issue(registration());
			backend.revoke(token, 2000000000, 1000);
			assert.same({ nil, "invalid" }, { backend.open(tamper(token)) });
		end);

		it("still refuses a revoked token after a restart (the list is loaded from the store)", function()
			local backend, store = new_backend();
			local token = backend.issue(registration());
			backend.revoke(token, 2000000000, 1000);
			local restarted = new_backend(store);
			assert.same({ nil, "revoked" }, { restarted.open(token) });
		end);
	end);
end

if v3 then
	describe("the paseto key", function()
		it("is created on first use under _private, and the same key is loaded after that", function()
			local store = memory_store();
			local key = assert(paseto_backend.loadOrCreateKey(v3, store));
			assert.same({ paseto_v3_local_key = key }, store.data._private);
			assert.equal(key, (paseto_backend.loadOrCreateKey(v3, store)));
			local token = paseto_backend.pasetoCodec(v3, key).encode(registration());
			local again = paseto_backend.pasetoCodec(v3, (paseto_backend.loadOrCreateKey(v3, store)));
			assert.same(registration(), fields(again.decode(token)));
		end);

		it("is not created when the store cannot be read", function()
			local store = memory_store();
			store.broken_get = "disk on fire";
			assert.same({ nil, "disk on fire" }, { paseto_backend.loadOrCreateKey(v3, store) });
			assert.same({}, store.sets);
		end);
	end);
end

describe("the revocation list", function()
	it("is persisted under _revoked, token key to expiry", function()
		local store = memory_store();
		local list = assert(revocation.loadRevocations(store));
		assert.is_false(list.isRevoked("some-token"));
		assert.same({ true }, { list.revoke(key_of("some-token"), 500, 100) });
		assert.same({ _revoked = { [key_of("some-token")] = 500 } }, store.data);
		assert.is_true(list.isRevoked("some-token"));
		assert.is_false(list.isRevoked("other-token"));
	end);

	it("drops entries that have expired on the next revocation, and keeps the others", function()
		local store = memory_store();
		local list = assert(revocation.loadRevocations(store));
		list.revoke(key_of("old"), 100, 50);
		list.revoke(key_of("at-the-edge"), 200, 50);
		list.revoke(key_of("later"), 900, 50);
		list.revoke(key_of("new"), 1000, 200);
		assert.same({ [key_of("at-the-edge")] = 200, [key_of("later")] = 900, [key_of("new")] = 1000 }, store.data._revoked);
		assert.is_false(list.isRevoked("old"));
		assert.is_true(list.isRevoked("later"));
	end);

	it("still answers for what it holds once pruning has emptied it and refilled it", function()
		local store = memory_store();
		local list = assert(revocation.loadRevocations(store));
		list.revoke(key_of("a"), 100, 50);
		list.revoke(key_of("a"), 100, 50);
		list.revoke(key_of("b"), 1000, 500);
		assert.is_false(list.isRevoked("a"));
		assert.is_true(list.isRevoked("b"));
	end);

	it("is loaded with what an earlier run stored", function()
		local store = memory_store();
		store.data._revoked = { [key_of("t")] = 500 };
		local list = assert(revocation.loadRevocations(store));
		assert.is_true(list.isRevoked("t"));
	end);

	it("reports a store that cannot be read", function()
		local store = memory_store();
		store.broken_get = "disk on fire";
		assert.same({ nil, "disk on fire" }, { revocation.loadRevocations(store) });
	end);

	it("reports a revocation that cannot be stored", function()
		local store = memory_store();
		local list = assert(revocation.loadRevocations(store));
		store.broken_set = "disk full";
		assert.same({ false, "disk full" }, { list.revoke(key_of("t"), 500, 100) });
	end);
end);
