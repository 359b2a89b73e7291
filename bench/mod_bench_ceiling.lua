-- Bench only: Prosody's own ceiling for a push-sized POST. The route answers 201
-- at once, with no token check and no IQ, so what is left is the cost of
-- Prosody's HTTP stack (parsing, routing, the response) on this machine.
-- bench/run.mjs POSTs the same 200-byte bodies to /bench_ceiling/<short id>.
module:depends("http");

module:provides("http", {
	name = "bench_ceiling";
	route = {
		["POST /*"] = function()
			return 201;
		end;
		-- The load generator's connection check before the clock starts.
		["GET /*"] = function()
			return 200;
		end;
	};
});
