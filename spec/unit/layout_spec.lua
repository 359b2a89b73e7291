-- Unit: docs/design.md "Source layout" names every file under src/ (a file in a
-- folder it names, such as src/backends/, counts), and names no file that is gone.
local function read(path)
	local f = assert(io.open(path));
	local text = f:read("*a");
	f:close();
	return text;
end

local function source_files()
	local pipe = assert(io.popen("find src -type f -name '*.ts' | sort"));
	local files = {};
	for line in pipe:lines() do files[#files + 1] = line; end
	pipe:close();
	return files;
end

describe("docs/design.md's source layout", function()
	local section = read("docs/design.md"):match("\n## Source layout\n(.-)\n## ")
		or read("docs/design.md"):match("\n## Source layout\n(.*)$");

	it("is there, and src/ has files to list", function()
		assert.is_string(section, "no \"## Source layout\" section in docs/design.md");
		assert.is_true(#source_files() > 10, "src/ not found (run from the checkout)");
	end);

	it("names every file under src/", function()
		local missing = {};
		for _, file in ipairs(source_files()) do
			local folder = file:match("^(src/.+/)[^/]+$");
			if not (section:find("`" .. file .. "`", 1, true) or (folder and section:find("`" .. folder .. "`", 1, true))) then
				missing[#missing + 1] = file;
			end
		end
		assert.same({}, missing);
	end);

	it("names no file that is gone", function()
		local gone = {};
		for path in section:gmatch("`(src/[^`]+)`") do
			local f = io.open(path);
			if f then f:close(); else gone[#gone + 1] = path; end
		end
		assert.same({}, gone);
	end);
end);
