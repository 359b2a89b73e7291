-- The busted helper (.busted): loads Prosody's libraries (prosody_libs.lua) and
-- makes every `it` assert something. Each call of luassert (assert(v),
-- assert.equal(...), assert.spy(s).was.called(), ...) is counted; an `it` that
-- passed without one is reported as an error naming it, so a case that checks
-- nothing (a recording, a leftover) cannot pass unnoticed. Pending cases are left
-- alone. Helpers count when they assert through luassert (the global `assert`).
require "prosody_libs";

local luassert = require "luassert";

local assertions = 0;
local meta = getmetatable(luassert);
local call, index = meta.__call, meta.__index;
meta.__call = function(...)
	assertions = assertions + 1;
	return call(...);
end;
meta.__index = function(...)
	assertions = assertions + 1;
	return index(...);
end;

-- busted's API as specs see it (busted 2.1 and 2.2 alike).
local busted = require "busted";

busted.subscribe({ "test", "start" }, function()
	assertions = 0;
	return nil, true;
end);

busted.subscribe({ "test", "end" }, function(element, _, status)
	if status == "success" and assertions == 0 then
		error(("it asserts nothing: %q (every `it` must check something, spec/helpers/README.md)"):format(
			element.name), 0);
	end
	return nil, true;
end);
