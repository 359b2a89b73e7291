-- Unit: the typed option readers every option goes through. A wrong value is
-- recorded as a problem naming the option, and the reader goes on with the
-- default so that every wrong option is found. Pure Lua: it also runs under the
-- other Lua versions (spec/unit/lua_versions_spec.lua).
local options = require "options";

-- A reader over a table of option values.
local function source(values)
	return function(name) return values[name]; end;
end

-- What one reader of a fresh option reader gives for `values`: the problem it
-- recorded and nil, or nil and the value.
local function error_of(kind, values, ...)
	local reader = options.optionReader(source(values));
	local value = reader[kind](...);
	assert(#reader.problems <= 1, "more than one problem recorded");
	if reader.problems[1] then return reader.problems[1]; end
	return nil, value;
end

describe("a whole number option (1 to 100, default 20)", function()
	local function read(value)
		return error_of("integer", { n = value }, "n", 20, 1, 100);
	end
	local RANGE = "option n must be a whole number from 1 to 100";
	local cases = {
		{ "unset", nil, 20 },
		{ "the lowest", 1, 1 },
		{ "the highest", 100, 100 },
		{ "a float with no fraction", 50.0, 50 },
		{ "zero", 0, RANGE .. " (got 0)" },
		{ "above the range", 101, RANGE .. " (got 101)" },
		{ "negative", -5, RANGE .. " (got -5)" },
		{ "a fraction", 1.5, RANGE .. " (got 1.5)" },
		{ "a string", "10", RANGE .. ' (got "10")' },
		{ "a boolean", true, RANGE .. " (got true)" },
	};
	for _, case in ipairs(cases) do
		it(type(case[3]) == "number" and ("gives %s for %s"):format(case[3], case[1]) or ("refuses " .. case[1]), function()
			local err, value = read(case[2]);
			if type(case[3]) == "number" then
				assert.is_nil(err);
				assert.equal(case[3], value);
			else
				assert.is_nil(value);
				assert.truthy(err and err:find(case[3], 1, true), "got: " .. tostring(err));
			end
		end);
	end
end);

describe("a string option", function()
	it("gives the string, or nil when unset", function()
		assert.same({ nil, "s3cret" }, { error_of("string", { s = "s3cret" }, "s") });
		assert.same({}, { error_of("string", {}, "s") });
	end);

	it("refuses anything else, naming the option and the value", function()
		for _, case in ipairs({ { 42, "(got 42)" }, { { "x" }, "(got table" }, { false, "(got false)" } }) do
			local err = error_of("string", { s = case[1] }, "s");
			assert.truthy(err and err:find("option s must be a string " .. case[2], 1, true), "got: " .. tostring(err));
		end
	end);
end);

describe("a choice option", function()
	local CHOICES = { "paseto", "storage", "jwt" };
	local cases = {
		{ "unset, the fallback", nil, "storage" },
		{ "one of the choices", "jwt", "jwt" },
		{ "an unknown name", "redis", 'option backend must be one of paseto, storage, jwt (got "redis")' },
		{ "a different case", "JWT", 'option backend must be one of paseto, storage, jwt (got "JWT")' },
		{ "a number", 3, "option backend must be one of paseto, storage, jwt (got 3)" },
	};
	for _, case in ipairs(cases) do
		it("answers " .. case[1], function()
			local err, value = error_of("choice", { backend = case[2] }, "backend", CHOICES, "storage");
			if case[3]:find("^option ") then
				assert.is_nil(value);
				assert.truthy(err and err:find(case[3], 1, true), "got: " .. tostring(err));
			else
				assert.is_nil(err);
				assert.equal(case[3], value);
			end
		end);
	end
end);

describe("a list option", function()
	local cases = {
		{ "unset, the fallback", nil, { "example.test" } },
		{ "a single string, as a list of one", "a.test", { "a.test" } },
		{ "a list", { "a.test", "bob@b.test" }, { "a.test", "bob@b.test" } },
		{ "an empty list", {}, {} },
		{ "a number", 5, "option acl must be a list of strings (got 5)" },
		{ "a list with a number in it", { "a.test", 5 }, "option acl must be a list of strings (got 5)" },
		{ "a list with a table in it", { { "a.test" } }, "option acl must be a list of strings (got table" },
	};
	for _, case in ipairs(cases) do
		it("answers " .. case[1], function()
			local err, value = error_of("list", { acl = case[2] }, "acl", { "example.test" });
			if type(case[3]) == "string" then
				assert.is_nil(value);
				assert.truthy(err and err:find(case[3], 1, true), "got: " .. tostring(err));
			else
				assert.is_nil(err);
				assert.same(case[3], value);
			end
		end);
	end
end);

describe("an option reader", function()
	it("records every wrong option and gives the defaults for them", function()
		local reader = options.optionReader(source({ a = 0, b = "no", c = 7 }));
		local values = { reader.integer("a", 5, 1, 9), reader.boolean("b", true), reader.integer("c", 5, 1, 9) };
		reader.refuse("a rule across options");
		assert.same({ 5, true, 7 }, values);
		assert.same({
			"option a must be a whole number from 1 to 9 (got 0)",
			'option b must be true or false (got "no")',
			"a rule across options",
		}, reader.problems);
	end);
end);
