-- luacheck: the generated module and the Lua specs.
std = "max"
max_line_length = 150

files["dist/"] = {
	-- Prosody gives every module a `module` object in its environment; the module
	-- may set the lifecycle functions Prosody calls on it.
	read_globals = {
		"prosody",
		module = { other_fields = true, fields = { unload = { read_only = false } } },
	},
	-- Unused variables and arguments are already rejected in src/ by tsconfig's
	-- noUnusedLocals/noUnusedParameters; the ones left are TSTL's: its bundle loader
	-- and the placeholder it names "____" (skipped destructuring slots, loop keys).
	-- Nested loops reuse its placeholders ("____", "____value"), shadowing them.
	ignore = { "212", "311", "21./____", "423/____.*" },
	-- Line length is src/'s concern (Prettier, 100 columns); TSTL joins some
	-- expressions onto one line.
	max_line_length = false,
}

files["spec/"] = {
	std = "+busted",
	read_globals = { "prosody" },
}
