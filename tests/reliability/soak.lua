-- soak.lua: wrk's script for tests/reliability/soak.c. Each wrk thread has
-- one connection (run wrk with -c equal to -t) and walks it through
-- create -> read -> update -> delete of one alert of the example's alert
-- app, over and over: POST /api/alerts (201, the id read from the body),
-- GET and PATCH /api/alerts/<id> (200), DELETE /api/alerts/<id> (204).
-- It counts the answers of each kind, and any other status as an error
-- (then starts over with a create).
--
-- wrk -t N -c N -d SECONDS+2 -s soak.lua URL -- SECONDS [TOKEN]
-- After SECONDS a thread stops itself once its delete is answered, so no
-- request is in flight when wrk ends and the counts are exact. done()
-- prints one line: SOAK {"create":..,"read":..,"update":..,"delete":..,
-- "errors":..,"first_error":..,"requests":..,"socket_errors":..}

local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	seconds = tonumber(args[1]) or 10
	deadline = os.time() + seconds
	step = "create"
	id = nil
	create, read, update, delete, errors = 0, 0, 0, 0, 0
	first_error = ""
	json = { ["Content-Type"] = "application/json" }
	plain = {}
	if args[2] ~= nil then
		-- an API token: model routes need one for every method
		json["Authorization"] = "Token " .. args[2]
		plain["Authorization"] = "Token " .. args[2]
	end
end

function request()
	if step == "create" then
		return wrk.format("POST", "/api/alerts", json, '{"content": "soak", "tags": [1]}')
	elseif step == "read" then
		return wrk.format("GET", "/api/alerts/" .. id, plain)
	elseif step == "update" then
		return wrk.format("PATCH", "/api/alerts/" .. id, json, '{"content": "soaked"}')
	end
	return wrk.format("DELETE", "/api/alerts/" .. id, plain)
end

local function failed(status, body)
	errors = errors + 1
	if first_error == "" then
		first_error = step .. ": " .. status .. " " .. string.sub(body or "", 1, 200)
	end
	step = "create"
end

function response(status, headers, body)
	if step == "create" then
		id = status == 201 and string.match(body, '"id":(%d+)') or nil
		if id == nil then return failed(status, body) end
		create = create + 1
		step = "read"
	elseif step == "read" then
		if status ~= 200 then return failed(status, body) end
		read = read + 1
		step = "update"
	elseif step == "update" then
		if status ~= 200 then return failed(status, body) end
		update = update + 1
		step = "delete"
	else
		if status ~= 204 then return failed(status, body) end
		delete = delete + 1
		step = "create"
		if os.time() >= deadline then
			wrk.thread:stop()
		end
	end
end

function done(summary, latency, requests)
	local t = { create = 0, read = 0, update = 0, delete = 0, errors = 0 }
	local first = ""
	for _, thread in ipairs(threads) do
		for k, _ in pairs(t) do
			t[k] = t[k] + thread:get(k)
		end
		if first == "" then first = thread:get("first_error") end
	end
	local e = summary.errors
	io.write(string.format('SOAK {"create":%d,"read":%d,"update":%d,"delete":%d,"errors":%d,' ..
		'"first_error":"%s","requests":%d,"socket_errors":%d,"latency_p99_us":%d}\n',
		t.create, t.read, t.update, t.delete, t.errors, string.gsub(first, '["\\%c]', "?"),
		summary.requests, e.connect + e.read + e.write + e.timeout, latency:percentile(99.0)))
end
