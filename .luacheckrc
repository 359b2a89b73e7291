-- luacheck: the generated module and the Lua specs.
std = "max"
max_line_length = 150

files["dist/"] = {
	-- Prosody gives every module a `module` object in its environment.
	read_globals = { "module", "prosody" },
	-- Unused variables and arguments are already rejected in src/ by tsconfig's
	-- noUnusedLocals/noUnusedParameters; the ones left come from TSTL's bundle loader.
	ignore = { "212", "311" },
}

files["spec/"] = {
	std = "+busted",
	read_globals = { "prosody" },
}
