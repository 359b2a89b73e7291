-- mod_unified_push 0.1.0: UnifiedPush provider for Prosody. Licence: MIT.
-- GENERATED from src/ by TypeScriptToLua (npm run build). Do not edit by hand.

local ____modules = {}
local ____moduleCache = {}
local ____originalRequire = require
local function require(file, ...)
    if ____moduleCache[file] then
        return ____moduleCache[file].value
    end
    if ____modules[file] then
        local module = ____modules[file]
        local value = nil
        if (select("#", ...) > 0) then value = module(...) else value = module(file) end
        ____moduleCache[file] = { value = value }
        return value
    else
        if ____originalRequire then
            return ____originalRequire(file)
        else
            error("module '" .. file .. "' not found")
        end
    end
end
____modules = {
["lualib_bundle"] = function(...)
local function __TS__ObjectAssign(target, ...)
    local sources = {...}
    for i = 1, #sources do
        local source = sources[i]
        if type(source) == "table" then
            for key in pairs(source) do
                target[key] = source[key]
            end
        end
    end
    return target
end

local function __TS__ArrayIncludes(self, searchElement, fromIndex)
    if fromIndex == nil then
        fromIndex = 0
    end
    local len = #self
    local k = fromIndex
    if fromIndex < 0 then
        k = len + fromIndex
    end
    if k < 0 then
        k = 0
    end
    for i = k + 1, len do
        if self[i] == searchElement then
            return true
        end
    end
    return false
end

return {
  __TS__ObjectAssign = __TS__ObjectAssign,
  __TS__ArrayIncludes = __TS__ArrayIncludes
}
 end,
["src.acl"] = function(...)
local ____exports = {}
local ____util_2Ejid = require("util.jid")
local compare = ____util_2Ejid.compare
--- True when `from` (a full JID) is covered by one of the ACL entries.
function ____exports.isPermitted(acl, from)
    if from == nil then
        return false
    end
    for ____, entry in ipairs(acl) do
        if compare(from, entry) then
            return true
        end
    end
    return false
end
return ____exports
 end,
["src.options"] = function(...)
local ____exports = {}
--- How a wrong value is shown: strings quoted, so "10" and 10 read differently.
local function shown(value)
    return type(value) == "string" and ("\"" .. value) .. "\"" or tostring(value)
end
function ____exports.optionReader(read)
    local problems = {}
    local function wrong(name, expectation, value)
        problems[#problems + 1] = ((((("option " .. name) .. " must be ") .. expectation) .. " (got ") .. shown(value)) .. ")"
    end
    return {
        problems = problems,
        integer = function(name, fallback, min, max)
            local ____read_result_0 = read(name)
            if ____read_result_0 == nil then
                ____read_result_0 = fallback
            end
            local value = ____read_result_0
            if type(value) ~= "number" or math.floor(value) ~= value or value < min or value > max then
                wrong(
                    name,
                    (("a whole number from " .. tostring(min)) .. " to ") .. tostring(max),
                    value
                )
                return fallback
            end
            return value
        end,
        boolean = function(name, fallback)
            local ____read_result_1 = read(name)
            if ____read_result_1 == nil then
                ____read_result_1 = fallback
            end
            local value = ____read_result_1
            if type(value) == "boolean" then
                return value
            end
            wrong(name, "true or false", value)
            return fallback
        end,
        string = function(name)
            local value = read(name)
            if value == nil or type(value) == "string" then
                return value
            end
            wrong(name, "a string", value)
            return nil
        end,
        choice = function(name, choices, fallback)
            local ____read_result_2 = read(name)
            if ____read_result_2 == nil then
                ____read_result_2 = fallback
            end
            local value = ____read_result_2
            for ____, choice in ipairs(choices) do
                if value == choice then
                    return choice
                end
            end
            wrong(
                name,
                "one of " .. table.concat(choices, ", "),
                value
            )
            return fallback
        end,
        list = function(name, fallback)
            local ____read_result_3 = read(name)
            if ____read_result_3 == nil then
                ____read_result_3 = fallback
            end
            local value = ____read_result_3
            if type(value) == "string" then
                return {value}
            end
            if type(value) ~= "table" then
                wrong(name, "a list of strings", value)
                return fallback
            end
            local list = {}
            for ____, item in ipairs(value) do
                if type(item) ~= "string" then
                    wrong(name, "a list of strings", item)
                    return fallback
                end
                list[#list + 1] = item
            end
            return list
        end,
        refuse = function(problem)
            problems[#problems + 1] = problem
        end
    }
end
return ____exports
 end,
["src.protocol"] = function(...)
local ____exports = {}
local ____util_2Eencodings = require("util.encodings")
local base64 = ____util_2Eencodings.base64
local ____util_2Edatetime = require("util.datetime")
local datetime = ____util_2Edatetime.datetime
local ____util_2Estanza = require("util.stanza")
local iq = ____util_2Estanza.iq
local reply = ____util_2Estanza.reply
local stanza = ____util_2Estanza.stanza
____exports.NS = "http://gultsch.de/xmpp/drafts/unified-push"
--- Largest push message accepted, bytes (docs/design.md, "HTTP semantics").
____exports.MAX_BODY_BYTES = 4096
--- Size of the SHA-256 hashes distributors send as `application` and `instance`.
local HASH_BYTES = 32
local BASE64_PATTERN = "^[A-Za-z0-9+/]*=?=?$"
--- Checks one attribute of `<register/>`: standard base64 of exactly 32 bytes.
-- Returns the problem in words, naming the attribute, or undefined when valid.
function ____exports.hashAttributeProblem(name, value)
    if value == nil or value == "" then
        return name .. ": missing"
    end
    if (string.find(value, BASE64_PATTERN)) == nil or #value % 4 ~= 0 then
        return name .. ": not base64"
    end
    local decoded = base64.decode(value)
    if decoded == nil then
        return name .. ": not base64"
    end
    if #decoded ~= HASH_BYTES then
        return (((name .. ": decodes to ") .. tostring(#decoded)) .. " bytes, expected ") .. tostring(HASH_BYTES)
    end
    return nil
end
--- The `<registered/>` answer to a registration.
function ____exports.registeredReply(request, endpoint, expires)
    return reply(request):tag(
        "registered",
        {
            xmlns = ____exports.NS,
            expiration = datetime(expires),
            endpoint = endpoint
        }
    ):up()
end
--- The `<push/>` IQ that carries one notification to the distributor.
function ____exports.pushIq(from, to, id, application, instance, body)
    return iq({type = "set", from = from, to = to, id = id}):text_tag(
        "push",
        base64.encode(body),
        {xmlns = ____exports.NS, application = application, instance = instance}
    )
end
--- A `<push/>` element on its own, as a kept message stores it.
function ____exports.pushElement(application, instance, body)
    return stanza("push", {xmlns = ____exports.NS, application = application, instance = instance}):text(base64.encode(body))
end
--- The push IQ around a `<push/>` element made earlier (a kept message).
function ____exports.pushIqWith(from, to, id, push)
    return iq({type = "set", from = from, to = to, id = id}):add_child(push)
end
return ____exports
 end,
["src.startup"] = function(...)
local ____lualib = require("lualib_bundle")
local __TS__ObjectAssign = ____lualib.__TS__ObjectAssign
local ____exports = {}
--- Stops loading the module on this host after logging each problem on a line of
-- its own. Prosody's module loader runs the module under xpcall with
-- debug.traceback, which appends a traceback to a string error but passes any
-- other value through: a table with a __tostring gives one line and no traceback.
function ____exports.refuseToLoad(log, host, problems)
    for ____, problem in ipairs(problems) do
        log(problem)
    end
    local summary = ((("not loaded on " .. host) .. ": ") .. (#problems == 1 and "the problem" or ("the " .. tostring(#problems)) .. " problems")) .. " logged above"
    return error(
        setmetatable(
            {},
            {__tostring = function() return summary end}
        ),
        0
    )
end
--- An app's path as mod_http makes it: `http_paths[app]` of the host, else of the
-- global section, else the default; with a leading and no trailing slash, `$host`
-- replaced by the host.
function ____exports.appPath(httpPaths, app, fallback, host)
    local path = fallback
    for ____, paths in ipairs(httpPaths) do
        local ____temp_0
        if type(paths) == "table" then
            ____temp_0 = paths[app]
        else
            ____temp_0 = nil
        end
        local configured = ____temp_0
        if type(configured) == "string" then
            path = configured
            break
        end
    end
    if string.sub(path, 1, 1) ~= "/" then
        path = "/" .. path
    end
    if #path > 1 and string.sub(path, -1) == "/" then
        path = string.sub(path, 1, -2)
    end
    return (string.gsub(
        path,
        "%$host",
        function() return host end
    ))
end
--- Checks a new instance's routes against those of the instances already loaded.
-- Two instances with the same endpoint routes cannot both work (mod_http gives
-- every request to one of them, so the other's endpoints answer 404): the later
-- one is refused. A second Matrix gateway on an HTTP host would never be asked:
-- the later one goes without it.
function ____exports.checkClaim(others, mine)
    local noGateway
    for ____, other in ipairs(others) do
        do
            local __continue14
            repeat
                if other.host == mine.host or other.httpHost ~= mine.httpHost then
                    __continue14 = true
                    break
                end
                if other.pushPath == mine.pushPath then
                    return {refusal = (((((((("mod_unified_push on " .. other.host) .. " already serves ") .. mine.pushPath) .. " on HTTP host ") .. mine.httpHost) .. ", ") .. ("so its endpoints would answer 404 on " .. mine.host) .. ": enable the module on only one of ") .. ((((other.host .. " and ") .. mine.host) .. " (a component with http_host = \"") .. mine.httpHost) .. "\" replaces it on ") .. "that VirtualHost), or give one of them its own path with http_paths = { push = \"/push-$host\" }"}
                end
                if mine.matrixPath ~= nil and other.matrixPath == mine.matrixPath then
                    noGateway = ((((("the Matrix push gateway of " .. other.host) .. " already serves ") .. mine.matrixPath) .. " on HTTP host ") .. ((mine.httpHost .. ", so ") .. mine.host) .. " serves none: set unified_push_matrix_gateway = false on ") .. (mine.host .. " or ") .. other.host
                end
                __continue14 = true
            until true
            if not __continue14 then
                break
            end
        end
    end
    return {noGateway = noGateway}
end
--- The host of an http(s) URL, lowercased; undefined when it has none.
local function hostOf(url)
    local host = string.match(url, "^%a[%w+.-]*://%[?([^/:%]?#]+)")
    local ____temp_1
    if host == nil then
        ____temp_1 = nil
    else
        ____temp_1 = string.lower(host)
    end
    return ____temp_1
end
--- Why requests to the published URL may not reach the endpoints, or undefined.
-- Prosody routes HTTP by `Host`: a request for another of its hosts goes to that
-- host's apps, one for a name it does not serve to http_default_host or nowhere
-- ("Unknown host"). A reverse proxy may still send the right `Host`, so this is a
-- warning, not a refusal.
function ____exports.externalUrlProblem(routing)
    local published = hostOf(routing.pushUrl)
    local served = string.lower(routing.httpHost)
    if published == nil or published == served then
        return nil
    end
    local isServed = routing.isProsodyHost(published)
    if not isServed and routing.defaultHost ~= nil and string.lower(routing.defaultHost) == served then
        return nil
    end
    local fate = isServed and ("go to " .. published) .. "'s HTTP apps" or "get \"Unknown host\""
    return ((((("endpoints are published under " .. routing.pushUrl) .. " (http_external_url) but served for HTTP host ") .. ((((served .. ": requests reaching Prosody with Host: ") .. published) .. " ") .. fate) .. " and answer 404. ") .. "Set http_external_url in this host's section rather than globally, have your reverse proxy ") .. "send Host: " .. served) .. (isServed and "" or (", or set http_default_host = \"" .. served) .. "\"")
end
--- The one info line an instance logs when it is ready.
function ____exports.announcement(version, host, backend, pushUrl, matrixUrl)
    local gateway = matrixUrl == nil and "no Matrix push gateway" or "Matrix push gateway " .. matrixUrl
    return (((((((("mod_unified_push " .. version) .. " on ") .. host) .. ": ") .. backend) .. " backend, endpoints under ") .. pushUrl) .. "/, ") .. gateway
end
--- Where this instance serves HTTP, checked against the other instances
-- (docs/design.md, "Startup"): `stop` when its endpoints' routes are taken, no
-- gateway (and a warning) when the gateway's are.
function ____exports.claimHttp(module, gatewayPath, stop)
    local httpPaths = {
        module:get_option("http_paths"),
        module:context("*"):get_option("http_paths")
    }
    local ____temp_2 = module:get_option("http_host")
    if ____temp_2 == nil then
        ____temp_2 = module.host
    end
    local httpHost = ____temp_2
    local claims = module:shared(("/*/" .. module.name) .. "/http")
    local others = {}
    for ____, claim in pairs(claims) do
        others[#others + 1] = claim
    end
    local ____module_host_4 = module.host
    local ____temp_5 = type(httpHost) == "string" and httpHost or module.host
    local ____exports_appPath_result_6 = ____exports.appPath(httpPaths, "push", "/push", module.host)
    local ____temp_3
    if gatewayPath == nil then
        ____temp_3 = nil
    else
        ____temp_3 = ____exports.appPath(httpPaths, "matrix_push_gateway", gatewayPath, module.host)
    end
    local wanted = {host = ____module_host_4, httpHost = ____temp_5, pushPath = ____exports_appPath_result_6, matrixPath = ____temp_3}
    local ____exports_checkClaim_result_7 = ____exports.checkClaim(others, wanted)
    local refusal = ____exports_checkClaim_result_7.refusal
    local noGateway = ____exports_checkClaim_result_7.noGateway
    if refusal ~= nil then
        stop({refusal})
    end
    if noGateway ~= nil then
        module:log("warn", "%s", noGateway)
    end
    local servesGateway = wanted.matrixPath ~= nil and noGateway == nil
    return {
        httpHost = wanted.httpHost,
        servesGateway = servesGateway,
        publish = function()
            claims[module.host] = __TS__ObjectAssign({}, wanted, {matrixPath = servesGateway and wanted.matrixPath or nil})
            return nil
        end,
        release = function()
            claims[module.host] = nil
            return true
        end
    }
end
--- Logs who is serving where once mod_http knows its ports (at server start, or
-- now on a later load), and warns when the published URL will not reach it.
function ____exports.announceWhenReady(module, version, backend, claimed, pushUrl, gatewayPath)
    local function ready()
        local url = pushUrl()
        local matrixUrl = claimed.servesGateway and module:http_url("matrix_push_gateway", gatewayPath) or nil
        module:log(
            "info",
            "%s",
            ____exports.announcement(
                version,
                module.host,
                backend,
                url,
                matrixUrl
            )
        )
        local defaultHost = module:get_option("http_default_host")
        local problem = ____exports.externalUrlProblem({
            pushUrl = url,
            httpHost = claimed.httpHost,
            isProsodyHost = function(host) return prosody.hosts[host] ~= nil end,
            defaultHost = type(defaultHost) == "string" and defaultHost or nil
        })
        if problem ~= nil then
            module:log("warn", "%s", problem)
        end
    end
    if prosody.start_time == nil then
        module:hook_global("server-started", ready)
    else
        ready()
    end
end
return ____exports
 end,
["src.config"] = function(...)
local ____lualib = require("lualib_bundle")
local __TS__ArrayIncludes = ____lualib.__TS__ArrayIncludes
local ____exports = {}
local ____util_2Ejid = require("util.jid")
local prep = ____util_2Ejid.prep
local ____options = require("src.options")
local optionReader = ____options.optionReader
local ____protocol = require("src.protocol")
local MAX_BODY_BYTES = ____protocol.MAX_BODY_BYTES
local ____startup = require("src.startup")
local claimHttp = ____startup.claimHttp
local refuseToLoad = ____startup.refuseToLoad
local ALL_BACKENDS = {"paseto", "storage", "jwt"}
local DAY = 86400
--- HS256 needs a secret with real entropy; `openssl rand -base64 32` gives 44 characters.
local MIN_SECRET_LENGTH = 16
--- A component's users live on its parent domain: push.example.com -> example.com.
local function defaultAclEntry(context)
    if not context.isComponent then
        return context.host
    end
    local parent = string.match(context.host, "^[^.]+%.(.+)$")
    return parent or context.host
end
--- Reads and checks every option. A host with wrong options gets all of their
-- problems at once, one line each, and no configuration.
function ____exports.readConfig(read, context)
    local options = optionReader(read)
    local acl = {}
    for ____, entry in ipairs(options.list(
        "unified_push_acl",
        {defaultAclEntry(context)}
    )) do
        local normalised = prep(entry)
        if normalised == nil or (string.find(normalised, "[%s/]")) ~= nil then
            options.refuse(("option unified_push_acl must list domains or bare JIDs (got \"" .. entry) .. "\")")
        else
            acl[#acl + 1] = normalised
        end
    end
    local requested = read("unified_push_backend")
    local backend = context.backends[1] or "storage"
    if __TS__ArrayIncludes(ALL_BACKENDS, requested) and not __TS__ArrayIncludes(context.backends, requested) then
        options.refuse((("option unified_push_backend: \"" .. requested) .. "\" is not supported by this Prosody ") .. ("(supported here: " .. table.concat(context.backends, ", ")) .. ")")
    else
        backend = options.choice("unified_push_backend", context.backends, backend)
    end
    local secret = options.string("unified_push_secret")
    if backend == "jwt" then
        if secret == nil then
            options.refuse("option unified_push_secret is required by unified_push_backend = \"jwt\" " .. "(generate one with: openssl rand -base64 32)")
        elseif #secret < MIN_SECRET_LENGTH then
            options.refuse((("option unified_push_secret must be at least " .. tostring(MIN_SECRET_LENGTH)) .. " characters ") .. "(generate one with: openssl rand -base64 32)")
        end
    end
    local config = {
        acl = acl,
        backend = backend,
        secret = secret,
        registrationTtl = options.integer("unified_push_registration_ttl", DAY, 1, 365 * DAY),
        iqTimeout = options.integer("unified_push_iq_timeout", 20, 1, 300),
        answerWindow = options.integer("unified_push_answer_window", 2, 1, 5),
        rateLimit = options.integer("unified_push_rate_limit", 10, 1, 1000000),
        rateBurst = options.integer("unified_push_rate_burst", 100, 1, 1000000),
        maxInFlight = options.integer("unified_push_max_in_flight", 64, 1, 1000000),
        maxRegistrations = options.integer("unified_push_max_registrations", 100, 1, 1000000),
        messageTtl = options.integer("unified_push_message_ttl", DAY, 0, 30 * DAY),
        maxStoredMessages = options.integer("unified_push_max_stored_messages", 1000, 1, 1000000),
        maxStoredBytes = options.integer("unified_push_max_stored_bytes", 1048576, MAX_BODY_BYTES, 1073741824),
        maxStoredPerEndpoint = options.integer("unified_push_max_stored_per_endpoint", 250, 1, 1000000),
        matrixGateway = options.boolean("unified_push_matrix_gateway", true),
        endpointCache = options.integer("unified_push_endpoint_cache", 32768, 1, 10000000),
        purgeSlice = options.integer("unified_push_purge_slice", 500, 1, 100000),
        journalDelay = options.integer("unified_push_journal_delay", 10, 0, 3600)
    }
    if #options.problems > 0 then
        return nil, options.problems
    end
    return config, nil
end
--- Reads the options (`backends`: those this Prosody supports) and claims the
-- HTTP routes (the gateway's at `gatewayPath`), or stops the load. Every check
-- that can stop it comes before the first hook: Prosody 0.12 leaves a failed
-- module's hooks in place.
function ____exports.checkBeforeHooks(module, gatewayPath, backends)
    local isComponent = module:get_host_type() == "component"
    local function stop(problems)
        return refuseToLoad(
            function(line) return module:log("error", "%s", line) end,
            module.host,
            problems
        )
    end
    local config, problems = ____exports.readConfig(
        function(name) return module:get_option(name) end,
        {host = module.host, isComponent = isComponent, backends = backends}
    )
    if config == nil then
        return stop(problems)
    end
    local claimed = claimHttp(module, config.matrixGateway and gatewayPath or nil, stop)
    return {config = config, claimed = claimed, isComponent = isComponent, stop = stop}
end
return ____exports
 end,
["src.cors"] = function(...)
local ____exports = {}
--- mod_http's default for access_control_max_age: two hours.
local DEFAULT_MAX_AGE = 7200
--- The origins allowed, as a lookup table; undefined when any origin is.
local function allowedOrigins(origins)
    if origins == nil or origins == "*" then
        return nil
    end
    local allowed = {}
    local any = true
    for ____, origin in ipairs(origins) do
        if origin == "*" then
            return nil
        end
        allowed[origin] = true
        any = false
    end
    local ____any_0
    if any then
        ____any_0 = nil
    else
        ____any_0 = allowed
    end
    return ____any_0
end
--- A header value listing `base` and then the names `changes` maps to true, each
-- once, leaving out those it maps to false.
local function joined(base, changes)
    local names = {}
    local listed = {}
    local function add(name)
        if changes[name] == false or listed[name] ~= nil then
            return
        end
        listed[name] = true
        names[#names + 1] = name
    end
    for ____, name in ipairs(base) do
        add(name)
    end
    for name in pairs(changes) do
        if changes[name] then
            add(name)
        end
    end
    return table.concat(names, ", ")
end
--- The CORS answers of an app with these route methods and this `cors` field, as
-- mod_http works them out (the operator's http_cors_override entry replaces the
-- app's field); undefined when CORS is off for it.
function ____exports.corsFor(settings, routeMethods, app)
    local cors = settings.override or app
    if cors.enabled == false then
        return nil
    end
    local chosen = cors.enabled == true and cors or ({})
    local routes = {}
    for ____, method in ipairs(routeMethods) do
        routes[method] = true
    end
    local methodsText = joined(settings.methods, routes)
    local headersText = joined(settings.headers, chosen.headers or ({}))
    local ____chosen_credentials_1 = chosen.credentials
    if ____chosen_credentials_1 == nil then
        ____chosen_credentials_1 = settings.credentials
    end
    local credentials = ____chosen_credentials_1
    local allowed = allowedOrigins(chosen.origins or settings.origins)
    local maxAgeText = tostring(settings.maxAge)
    return {allow = function(origin, response)
        if origin ~= nil then
            response.vary = "Origin"
        end
        if allowed ~= nil and (origin == nil or allowed[origin] == nil) then
            return
        end
        response.access_control_allow_methods = methodsText
        response.access_control_allow_headers = headersText
        response.access_control_max_age = maxAgeText
        response.access_control_allow_origin = origin or "*"
        if credentials then
            response.access_control_allow_credentials = "true"
        end
    end}
end
--- mod_http's CORS options as it reads them, with this app's http_cors_override entry.
function ____exports.corsSettings(module, app)
    local function list(name, fallback)
        local items = {}
        for item in module:get_option_set(name, fallback):items() do
            items[#items + 1] = tostring(item)
        end
        return items
    end
    local overrides = module:get_option("http_cors_override")
    local ____list_result_5 = list("access_control_allow_methods", {"GET", "OPTIONS"})
    local ____list_result_6 = list("access_control_allow_headers", {"Content-Type"})
    local ____list_result_7 = list("access_control_allow_origins", {})
    local ____temp_8 = module:get_option_boolean("access_control_allow_credentials", false) == true
    local ____temp_2
    if module.get_option_period == nil then
        ____temp_2 = module:get_option_number("access_control_max_age", DEFAULT_MAX_AGE)
    else
        ____temp_2 = module:get_option_period("access_control_max_age", DEFAULT_MAX_AGE)
    end
    return {
        methods = ____list_result_5,
        headers = ____list_result_6,
        origins = ____list_result_7,
        credentials = ____temp_8,
        maxAge = ____temp_2 or DEFAULT_MAX_AGE,
        override = overrides and overrides[app]
    }
end
--- A do-nothing event handler, for mod_http to unhook (below).
local function nothing()
end
--- Prosody 0.12's mod_http removes an app (when the module unloads or reloads) by
-- unhooking its CORS and preflight handlers even when it never added them, as
-- with CORS off, and fails on the missing ones (13 checks first): the module
-- could not be unloaded or reloaded. Giving each route a do-nothing handler of
-- both kinds to unhook lets mod_http remove the app cleanly. Call it right after
-- module:provides("http", app).
function ____exports.letModHttpRemoveApp(host, app)
    local session = prosody.hosts[host]
    local ____opt_11 = session and session.modules
    local ____opt_9 = ____opt_11 and ____opt_11.http
    local apps = ____opt_9 and ____opt_9.apps
    local routes = apps and apps[app]
    if routes == nil then
        return
    end
    for event in pairs(routes) do
        local route = routes[event]
        if route.cors == nil then
            route.cors = nothing
        end
        if route.options == nil then
            route.options = nothing
        end
    end
end
return ____exports
 end,
["src.endpoint"] = function(...)
local ____exports = {}
--- Characters of the token that go in the path.
local PATH_CHARACTERS = 8
--- `<first characters>?<rest>`, each part URL-encoded.
function ____exports.endpointPath(token, encode)
    if #token <= PATH_CHARACTERS then
        return encode(token)
    end
    return (encode(string.sub(token, 1, PATH_CHARACTERS)) .. "?") .. encode(string.sub(token, PATH_CHARACTERS + 1))
end
--- The token of a request: the (already decoded) path part and the raw query.
function ____exports.tokenOf(path, query, decode)
    if query == nil then
        return path
    end
    return path .. ((string.find(query, "%", 1, true)) == nil and query or decode(query))
end
return ____exports
 end,
["src.backends.backend"] = function(...)
local ____exports = {}
local byteSet
local ____util_2Ehashes = require("util.hashes")
local sha256 = ____util_2Ehashes.sha256
local ____util_2Ejid = require("util.jid")
local bare = ____util_2Ejid.bare
local prep = ____util_2Ejid.prep
local split = ____util_2Ejid.split
local ____protocol = require("src.protocol")
local hashAttributeProblem = ____protocol.hashAttributeProblem
function byteSet(characters)
    local set = {}
    do
        local i = 1
        while i <= #characters do
            set[string.byte(characters, i)] = true
            i = i + 1
        end
    end
    return set
end
--- Checks a decoded token payload or stored record is a registration the
-- registration IQ could have made: a normalised full JID and two valid hashes.
-- Claims signed with the right key are still not trusted blindly: they end up
-- in a stanza, where a stray byte would break the distributor's stream.
function ____exports.asRegistration(value)
    if type(value) ~= "table" then
        return nil
    end
    local r = value
    local sub = r.sub
    local application = r.application
    local instance = r.instance
    if type(sub) ~= "string" or type(application) ~= "string" or type(instance) ~= "string" or type(r.exp) ~= "number" or r.indexed ~= nil and r.indexed ~= true or hashAttributeProblem("application", application) ~= nil or hashAttributeProblem("instance", instance) ~= nil or prep(sub) ~= sub or select(
        3,
        split(sub)
    ) == nil then
        return nil
    end
    return r
end
--- Last characters of canonical unpadded base64url, by the length mod 4: the bits past the data are zero.
local CANONICAL_TAILS = {
    [2] = byteSet("AQgw"),
    [3] = byteSet("AEIMQUYcgkosw048")
}
--- Whether `text` from `first` to `last` (inclusive) is base64url without padding
-- in its one canonical spelling: no other characters, not a length that no bytes
-- encode, no bits set past the data (which decoders ignore, so such variants would
-- decode to the same bytes). No copies made: this runs on every push.
function ____exports.isCanonicalBase64url(text, first, last)
    if last < first then
        return false
    end
    local ____, run = string.find(text, "^[%w_-]+", first)
    if run == nil or run < last then
        return false
    end
    local rest = (last - first + 1) % 4
    if rest == 0 then
        return true
    end
    local tails = CANONICAL_TAILS[rest]
    return tails ~= nil and tails[string.byte(text, last)] ~= nil
end
--- A short stable name for a token: the storage backend's record key, the
-- revocation list's and the registration index's key. Stores and their debug
-- logs see this, never the token itself.
function ____exports.tokenKey(token)
    return string.sub(
        sha256(token, true),
        1,
        32
    )
end
--- The claims a stateless token is issued with: the user of the registration only.
function ____exports.userClaims(registration)
    return {u = bare(registration.sub) or registration.sub}
end
--- Checks decoded token claims are what we issue: a user (a normalised bare JID),
-- or else a whole registration (asRegistration).
function ____exports.asClaims(value)
    if type(value) ~= "table" then
        return nil
    end
    local u = value.u
    if u == nil then
        return ____exports.asRegistration(value)
    end
    if type(u) ~= "string" or prep(u) ~= u or select(
        3,
        split(u)
    ) ~= nil then
        return nil
    end
    return {u = u}
end
return ____exports
 end,
["src.metrics"] = function(...)
local ____exports = {}
--- What became of a POST to an endpoint (or a Matrix notification's pushkey).
____exports.PUSH_OUTCOMES = {
    "delivered",
    "stored",
    "gone",
    "unavailable",
    "limited",
    "bad_request",
    "unknown_endpoint",
    "failed"
}
--- What became of a registration IQ: new or renewed, else why it was refused.
____exports.REGISTRATION_OUTCOMES = {
    "new",
    "renewed",
    "forbidden",
    "bad_request",
    "limited",
    "failed"
}
--- Why endpoints were revoked: the app is gone, an admin did it, the account was deleted.
____exports.REVOCATION_REASONS = {"gone", "admin", "account_deleted"}
--- Why a stored message was removed.
____exports.REMOVAL_REASONS = {
    "delivered",
    "expired",
    "cancelled",
    "replaced",
    "endpoint_gone"
}
--- Upper bounds of the answer-time buckets, seconds: a distributor online answers in milliseconds.
local ANSWER_BUCKETS = {
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30
}
--- The counters of a family, one per label value, looked up now.
local function countersOf(family, keys)
    local counters = {}
    for ____, key in ipairs(keys) do
        counters[key] = family:with_labels(key)
    end
    return counters
end
--- The value of a metric's sample with this suffix (0 if it has none, as with statsd).
local function sampleOf(metric, suffix)
    for name, ____, value in metric:iter_samples() do
        if name == suffix then
            return value
        end
    end
    return 0
end
local function reading(name, keys, counters)
    local values = {}
    for ____, key in ipairs(keys) do
        values[#values + 1] = {
            key,
            sampleOf(counters[key], "_total")
        }
    end
    return {name = name, values = values}
end
--- Declares every metric of the module (once per host it is loaded on).
-- `statisticsOn` says whether Prosody keeps statistics (core.statsmanager has a
-- registry); without them the metrics record nothing and have nothing to read.
function ____exports.declareMetrics(module, statisticsOn)
    local function counter(name, description, label)
        return module:metric(
            "counter",
            name,
            "",
            description,
            {label}
        )
    end
    local function gauge(name, unit, description)
        return module:metric(
            "gauge",
            name,
            unit,
            description,
            {}
        ):with_labels()
    end
    local pushes = countersOf(
        counter("pushes", "Pushes to endpoints, by what became of them", "outcome"),
        ____exports.PUSH_OUTCOMES
    )
    local answerTime = module:metric(
        "histogram",
        "push_answer",
        "seconds",
        "Time from sending a push to the distributor's answer",
        {},
        {buckets = ANSWER_BUCKETS}
    ):with_labels()
    local registrations = countersOf(
        counter("registrations", "Registration requests, by outcome", "outcome"),
        ____exports.REGISTRATION_OUTCOMES
    )
    local revocations = countersOf(
        counter("revocations", "Endpoints revoked, by reason", "reason"),
        ____exports.REVOCATION_REASONS
    )
    local removed = countersOf(
        counter("stored_messages_removed", "Stored messages removed, by reason", "reason"),
        ____exports.REMOVAL_REASONS
    )
    local inFlight = gauge("pushes_in_flight", "", "Pushes awaiting the distributor's answer")
    local storedMessages = gauge("stored_messages", "", "Messages stored for offline distributors")
    local storedBytes = gauge("stored", "bytes", "Bytes of messages stored for offline distributors")
    local function update(levels)
        inFlight:set(levels.inFlight())
        local messages, bytes = levels.stored()
        storedMessages:set(messages)
        storedBytes:set(bytes)
    end
    return {
        pushes = pushes,
        answerTime = answerTime,
        registrations = registrations,
        revocations = revocations,
        removed = removed,
        update = update,
        read = function(levels)
            if not statisticsOn() then
                return nil
            end
            update(levels)
            return {
                reading("pushes", ____exports.PUSH_OUTCOMES, pushes),
                {
                    name = "push_answer",
                    values = {
                        {
                            "count",
                            sampleOf(answerTime, "_count")
                        },
                        {
                            "sum",
                            sampleOf(answerTime, "_sum")
                        }
                    }
                },
                reading("registrations", ____exports.REGISTRATION_OUTCOMES, registrations),
                reading("revocations", ____exports.REVOCATION_REASONS, revocations),
                {
                    name = "pushes_in_flight",
                    values = {{
                        "pushes",
                        sampleOf(inFlight, "")
                    }}
                },
                {
                    name = "stored",
                    values = {
                        {
                            "messages",
                            sampleOf(storedMessages, "")
                        },
                        {
                            "bytes",
                            sampleOf(storedBytes, "")
                        }
                    }
                },
                reading("stored_messages_removed", ____exports.REMOVAL_REASONS, removed)
            }
        end
    }
end
return ____exports
 end,
["src.slices"] = function(...)
local ____exports = {}
local ____util_2Etime = require("util.time")
local monotonic = ____util_2Etime.monotonic
--- Seconds a slice may run before it yields.
local SLICE_SECONDS = 0.01
--- Seconds between two slices: the server serves what waits meanwhile.
local SLICE_PAUSE = 0.02
--- Slices of at most `users` users (or records) and 10 ms, on the monotonic clock, 20 ms apart.
function ____exports.sliceOf(users)
    return {users = users, seconds = SLICE_SECONDS, clock = monotonic, pause = SLICE_PAUSE}
end
--- Visits every user `list` gives, in slices of `budget`. `finished` runs once at
-- the end, with why the walk stopped early (a store that failed), if it did.
function ____exports.walkUsers(list, visit, budget, finished)
    local sum = 0
    local done = false
    local walker = coroutine.create(function()
        local visited = 0
        local started = budget.clock()
        for user in list() do
            sum = sum + visit(user)
            visited = visited + 1
            if visited >= budget.users or budget.clock() - started >= budget.seconds then
                coroutine.yield()
                visited = 0
                started = budget.clock()
            end
        end
    end)
    return {
        step = function()
            if done then
                return true
            end
            local ok, err = coroutine.resume(walker)
            if not ok then
                done = true
                finished(tostring(err))
            elseif coroutine.status(walker) == "dead" then
                done = true
                finished()
            end
            return done
        end,
        total = function() return sum end
    }
end
--- Runs `walk` a slice per timer tick, `pause` seconds apart (more than 0: a timer
-- due at once would run again in the same pass of the timer loop).
function ____exports.runWalk(walk, addTimer, pause)
    addTimer(
        0,
        function()
            if not walk.step() then
                return pause
            end
            return nil
        end
    )
end
return ____exports
 end,
["src.journal"] = function(...)
local ____exports = {}
--- Values a slice of the fold writes at most (it also stops after 10 ms: slices.ts).
____exports.FOLD_SLICE = 500
--- Seconds before a fold that failed (a store down) is tried again, at the least.
local FOLD_RETRY = 30
local function isUnfolded(prior)
    return prior ~= false and prior.seq ~= nil
end
--- Equal scalars, or tables with the same scalar fields (an index entry, one level down).
local function sameValue(a, b)
    if a == b then
        return true
    end
    if type(a) ~= "table" or type(b) ~= "table" then
        return false
    end
    for field, value in pairs(a) do
        if b[field] ~= value then
            return false
        end
    end
    for field in pairs(b) do
        if a[field] == nil then
            return false
        end
    end
    return true
end
--- The fields of map `after` that differ from map `before` (false: gone); undefined unless both are maps.
local function changesOf(before, after)
    if type(before) ~= "table" or type(after) ~= "table" then
        return nil
    end
    local was = before
    local now = after
    local changes = {}
    for field, value in pairs(now) do
        if not sameValue(was[field], value) then
            changes[field] = value
        end
    end
    for field in pairs(was) do
        if now[field] == nil then
            changes[field] = false
        end
    end
    return changes
end
--- `base` (a map, or nothing) with `changes` applied: a new table.
local function applied(base, changes)
    local merged = {}
    if type(base) == "table" then
        for field, value in pairs(base) do
            merged[field] = value
        end
    end
    for field, value in pairs(changes) do
        if value == false then
            merged[field] = nil
        else
            merged[field] = value
        end
    end
    return merged
end
function ____exports.journal(context)
    local fold, forgetFolded, committed, scheduleFold, records, addTimer, log, opened, nextSeq, stored, turn, unfoldedCount, folding, foldDue
    function fold()
        foldDue = false
        if folding or #stored == 0 then
            return
        end
        folding = true
        local upTo = stored[#stored]
        local keys = {}
        local stores = {}
        for ____, one in pairs(opened) do
            for key, ____temp_1 in pairs(one.unfolded) do
                local seq
                seq = ____temp_1.seq
                if seq <= upTo then
                    keys[#keys + 1] = key
                    stores[#stores + 1] = one
                end
            end
        end
        local at = 0
        local failed
        --- Records dropped so far, oldest first: each one's values are in their stores.
        local dropped = 0
        --- One slice, writing values, then dropping records; the seconds until the next, if any.
        local function slice()
            local ____context_2 = context
            local budget = ____context_2.budget
            local started = budget.clock()
            local done = 0
            local function more()
                return done < budget.users and budget.clock() - started < budget.seconds
            end
            while at < #keys and more() do
                local one = stores[at + 1]
                local key = keys[at + 1]
                at = at + 1
                local current = committed(one, key)
                if current ~= nil then
                    local ____self_4 = one.store
                    local ____self_4_set_5 = ____self_4.set
                    local ____temp_3
                    if current.value == false then
                        ____temp_3 = nil
                    else
                        ____temp_3 = current.value
                    end
                    local ok, err = ____self_4_set_5(____self_4, key, ____temp_3)
                    if ok ~= true then
                        failed = tostring(err)
                    end
                end
                done = done + 1
            end
            if failed == nil then
                while at >= #keys and #stored > 0 and stored[1] <= upTo and more() do
                    local ok, err = records:set(
                        tostring(stored[1]),
                        nil
                    )
                    if ok ~= true then
                        failed = tostring(err)
                        break
                    end
                    dropped = table.remove(stored, 1)
                    done = done + 1
                end
            end
            if failed == nil and (at < #keys or #stored > 0 and stored[1] <= upTo) then
                return context.budget.pause
            end
            folding = false
            forgetFolded(dropped)
            if failed ~= nil then
                log("warn", "Could not fold the journal into its stores: %s", failed)
                scheduleFold(math.max(context.foldDelay, FOLD_RETRY))
            elseif #stored > 0 then
                scheduleFold(context.foldDelay)
            end
            return nil
        end
        local pause = slice()
        if pause ~= nil then
            addTimer(pause, slice)
        end
    end
    function forgetFolded(dropped)
        for ____, one in pairs(opened) do
            for key, ____temp_6 in pairs(one.unfolded) do
                local seq
                seq = ____temp_6.seq
                if seq <= dropped then
                    one.unfolded[key] = nil
                    unfoldedCount = unfoldedCount - 1
                end
            end
        end
    end
    function committed(one, key)
        local current = one.unfolded[key]
        if current == nil or current.seq < nextSeq then
            return current
        end
        local writes = turn[one]
        local ____temp_7
        if writes == nil then
            ____temp_7 = nil
        else
            ____temp_7 = writes[key]
        end
        local prior = ____temp_7
        return prior ~= nil and isUnfolded(prior) and prior or nil
    end
    function scheduleFold(delay)
        if delay <= 0 then
            return fold()
        end
        if foldDue or folding then
            return
        end
        foldDue = true
        addTimer(
            delay,
            function()
                fold()
                return nil
            end
        )
    end
    local ____context_0 = context
    records = ____context_0.store
    addTimer = ____context_0.addTimer
    log = ____context_0.log
    opened = {}
    nextSeq = 1
    stored = {}
    turn = {}
    local waiting = {}
    local scheduled = false
    unfoldedCount = 0
    folding = false
    foldDue = false
    --- Stores this turn's writes as one record; on failure each key holds what it held before.
    local function flush()
        scheduled = false
        local writes = turn
        local told = waiting
        turn = {}
        waiting = {}
        local seq = nextSeq
        local batch = {}
        local any = false
        for one, keys in pairs(writes) do
            local entry = {}
            for key, prior in pairs(keys) do
                local value = one.unfolded[key].value
                local ____temp_9
                if prior == false then
                    ____temp_9 = nil
                else
                    local ____isUnfolded_result_8
                    if isUnfolded(prior) then
                        ____isUnfolded_result_8 = prior.value
                    else
                        ____isUnfolded_result_8 = prior.inStore
                    end
                    ____temp_9 = ____isUnfolded_result_8
                end
                local before = ____temp_9
                local changes = changesOf(before, value)
                if changes == nil then
                    if entry.set == nil then
                        entry.set = {}
                    end
                    entry.set[key] = value
                elseif (next(changes)) ~= nil then
                    if entry.changed == nil then
                        entry.changed = {}
                    end
                    entry.changed[key] = changes
                elseif isUnfolded(prior) then
                    one.unfolded[key] = prior
                else
                    one.unfolded[key] = nil
                    unfoldedCount = unfoldedCount - 1
                end
            end
            if entry.set ~= nil or entry.changed ~= nil then
                batch[one.name] = entry
                any = true
            end
        end
        if not any then
            for ____, callback in ipairs(told) do
                callback(true)
            end
            return true
        end
        local ok, err = records:set(
            tostring(seq),
            batch
        )
        if ok == true then
            nextSeq = nextSeq + 1
            stored[#stored + 1] = seq
            scheduleFold(unfoldedCount > context.maxUnfolded and 0 or context.foldDelay)
            for ____, callback in ipairs(told) do
                callback(true)
            end
            return true
        end
        for one, keys in pairs(writes) do
            for key, prior in pairs(keys) do
                if isUnfolded(prior) then
                    one.unfolded[key] = prior
                else
                    one.unfolded[key] = nil
                    unfoldedCount = unfoldedCount - 1
                end
            end
        end
        for ____, callback in ipairs(told) do
            callback(
                false,
                tostring(err)
            )
        end
        return false, tostring(err)
    end
    local function write(one, key, value, inStore)
        local keys = turn[one]
        if keys == nil then
            keys = {}
            turn[one] = keys
        end
        local prior = one.unfolded[key]
        if keys[key] == nil then
            local ____keys_12 = keys
            local ____key_13 = key
            local ____prior_11 = prior
            if ____prior_11 == nil then
                local ____temp_10
                if inStore == nil then
                    ____temp_10 = false
                else
                    ____temp_10 = {inStore = inStore}
                end
                ____prior_11 = ____temp_10
            end
            ____keys_12[____key_13] = ____prior_11
        end
        if prior == nil then
            unfoldedCount = unfoldedCount + 1
        end
        local ____one_unfolded_15 = one.unfolded
        local ____key_16 = key
        local ____value_14 = value
        if ____value_14 == nil then
            ____value_14 = false
        end
        ____one_unfolded_15[____key_16] = {value = ____value_14, seq = nextSeq}
    end
    --- Takes one store's writes of record `seq` as not yet folded; the store's error if any.
    local function replayed(one, writes, seq)
        local function take(key, value)
            if one.unfolded[key] == nil then
                unfoldedCount = unfoldedCount + 1
            end
            one.unfolded[key] = {value = value, seq = seq}
        end
        if writes.set ~= nil then
            for key, value in pairs(writes.set) do
                take(key, value)
            end
        end
        if writes.changed == nil then
            return nil
        end
        for key, changes in pairs(writes.changed) do
            local held = one.unfolded[key]
            local ____temp_17
            if held == nil then
                ____temp_17 = nil
            else
                ____temp_17 = held.value
            end
            local base = ____temp_17
            if held == nil then
                local saved, err = one.store:get(key)
                if err ~= nil then
                    return tostring(err)
                end
                base = saved
            end
            take(
                key,
                applied(base, changes)
            )
        end
        return nil
    end
    local function later()
        if scheduled then
            return
        end
        scheduled = true
        addTimer(
            0,
            function()
                flush()
                return nil
            end
        )
    end
    return {
        open = function(name, store)
            local one = {name = name, store = store, unfolded = {}}
            opened[name] = one
            local listUsers = store.users
            local journaled = {
                get = function(self, key)
                    local held = one.unfolded[key]
                    if held == nil then
                        return store:get(key)
                    end
                    local ____temp_18
                    if held.value == false then
                        ____temp_18 = nil
                    else
                        ____temp_18 = held.value
                    end
                    return ____temp_18
                end,
                set = function(self, key, value)
                    if one.unfolded[key] == nil then
                        return store:set(key, value)
                    end
                    write(one, key, value)
                    local ok, err = flush()
                    if ok then
                        return true
                    end
                    return false, err or ""
                end,
                setSoon = function(self, key, value, told, inStore)
                    write(one, key, value, inStore)
                    if told ~= nil then
                        waiting[#waiting + 1] = told
                    end
                    later()
                end
            }
            if listUsers ~= nil then
                journaled.users = function() return coroutine.wrap(function()
                    local waitingKeys = {}
                    for key, ____temp_19 in pairs(one.unfolded) do
                        local value
                        value = ____temp_19.value
                        waitingKeys[key] = value ~= false
                    end
                    for key, live in pairs(waitingKeys) do
                        if live then
                            coroutine.yield(key)
                        end
                    end
                    for key in listUsers(store) do
                        if waitingKeys[key] == nil then
                            coroutine.yield(key)
                        end
                    end
                end) end
            end
            return journaled
        end,
        replay = function()
            local list = records.users
            if list == nil then
                return nil
            end
            local found = {}
            for key in list(records) do
                local seq = tonumber(key)
                if seq ~= nil then
                    found[#found + 1] = seq
                end
            end
            table.sort(found)
            for ____, seq in ipairs(found) do
                local batch, err = records:get(tostring(seq))
                if err ~= nil then
                    return tostring(err)
                end
                if batch ~= nil then
                    for name, writes in pairs(batch) do
                        local one = opened[name]
                        local ____temp_20
                        if one == nil then
                            ____temp_20 = nil
                        else
                            ____temp_20 = replayed(one, writes, seq)
                        end
                        local problem = ____temp_20
                        if problem ~= nil then
                            return problem
                        end
                    end
                end
                stored[#stored + 1] = seq
                nextSeq = seq + 1
            end
            if #stored > 0 then
                scheduleFold(context.foldDelay)
            end
            return nil
        end,
        close = function()
            flush()
            if records.users ~= nil then
                return
            end
            for ____, one in pairs(opened) do
                for key, ____temp_25 in pairs(one.unfolded) do
                    local value
                    value = ____temp_25.value
                    local ____self_23 = one.store
                    local ____self_23_set_24 = ____self_23.set
                    local ____key_22 = key
                    local ____temp_21
                    if value == false then
                        ____temp_21 = nil
                    else
                        ____temp_21 = value
                    end
                    ____self_23_set_24(____self_23, ____key_22, ____temp_21)
                end
            end
            for ____, seq in ipairs(stored) do
                records:set(
                    tostring(seq),
                    nil
                )
            end
        end
    }
end
return ____exports
 end,
["src.userindex"] = function(...)
local ____exports = {}
local ____util_2Ecache = require("util.cache")
local newCache = ____util_2Ecache.new
--- What the index holds for a user with no record: nothing to read, and known to be so.
local NONE = {}
--- A copy, so that the index's record and the store's never are the same table.
local function copyOf(record)
    local copy = {}
    for key, ____temp_0 in pairs(record) do
        local j
        local t
        local e
        local i
        local a
        a = ____temp_0.a
        i = ____temp_0.i
        e = ____temp_0.e
        t = ____temp_0.t
        j = ____temp_0.j
        copy[key] = t == nil and ({a = a, i = i, e = e, j = j}) or ({
            a = a,
            i = i,
            e = e,
            t = t,
            j = j
        })
    end
    return copy
end
local function isEmpty(record)
    local first = next(record)
    return first == nil
end
function ____exports.userIndex(context)
    local ____context_1 = context
    local store = ____context_1.store
    local records = newCache(context.cacheSize)
    --- The record as the user's current one (an empty one is none), and the copy
    -- to store: some drivers keep what they are given, and the index changes its own.
    local function hold(user, given)
        local ____temp_2
        if given == nil or isEmpty(given) then
            ____temp_2 = nil
        else
            ____temp_2 = given
        end
        local record = ____temp_2
        records:set(user, record or NONE)
        local ____temp_3
        if record == nil then
            ____temp_3 = nil
        else
            ____temp_3 = copyOf(record)
        end
        return ____temp_3
    end
    local function ____temp_8(user, remember)
        local held = records:get(user)
        if held ~= nil then
            local ____temp_4
            if held == NONE then
                ____temp_4 = nil
            else
                ____temp_4 = held
            end
            return ____temp_4, nil
        end
        local saved, err = store:get(user)
        if err ~= nil then
            return nil, tostring(err)
        end
        local ____temp_5
        if saved == nil or saved == false then
            ____temp_5 = nil
        else
            ____temp_5 = saved
        end
        local found = ____temp_5
        local ____temp_6
        if found == nil then
            ____temp_6 = nil
        else
            ____temp_6 = copyOf(found)
        end
        local record = ____temp_6
        if remember ~= false then
            records:set(user, record or NONE)
        end
        return record, nil
    end
    local function ____temp_9(user, given)
        local ok, err = store:set(
            user,
            hold(user, given)
        )
        if ok == true then
            return true, nil
        end
        records:set(user, nil)
        return false, tostring(err)
    end
    local function ____temp_10(user, given, stored)
        store:setSoon(
            user,
            hold(user, given),
            function(ok, err)
                if not ok then
                    records:set(user, nil)
                end
                stored(ok, err)
            end
        )
    end
    local ____temp_7
    if store.users == nil then
        ____temp_7 = nil
    else
        ____temp_7 = function() return store.users(store) end
    end
    return {read = ____temp_8, write = ____temp_9, writeSoon = ____temp_10, users = ____temp_7}
end
return ____exports
 end,
["src.endpoints"] = function(...)
local ____exports = {}
local ____util_2Ecache = require("util.cache")
local newCache = ____util_2Ecache.new
local ____util_2Ejid = require("util.jid")
local bare = ____util_2Ejid.bare
local ____backend = require("src.backends.backend")
local tokenKey = ____backend.tokenKey
local ____slices = require("src.slices")
local walkUsers = ____slices.walkUsers
--- The bare JID an index record is kept under.
local function userOf(fullJid)
    return bare(fullJid) or fullJid
end
--- The live entry of an app that a renewal can hand out again.
local function renewable(record, application, instance)
    for ____, entry in pairs(record) do
        if entry.t ~= nil and entry.a == application and entry.i == instance then
            return entry
        end
    end
    return nil
end
--- How many distinct apps the record holds, and whether the given one is among them.
local function countApps(record, application, instance)
    local apps = {}
    local count = 0
    for ____, entry in pairs(record) do
        local app = (entry.a .. " ") .. entry.i
        if apps[app] == nil then
            apps[app] = true
            count = count + 1
        end
    end
    return count, apps[(application .. " ") .. instance] ~= nil
end
function ____exports.endpoints(context)
    local ____context_0 = context
    local backend = ____context_0.backend
    local index = ____context_0.index
    local revocations = ____context_0.revocations
    local resolved = newCache(context.cacheSize)
    local listeners = {}
    --- What an endpoint leaves behind goes with it: the backend's record, what it kept.
    local function forgotten(user, key)
        backend.dropRecord(key)
        for ____, listener in ipairs(listeners) do
            listener(user, key)
        end
    end
    --- Removes expired entries in place; how many went.
    local function prune(user, record, now)
        local removed = 0
        for key, entry in pairs(record) do
            if entry.e < now then
                record[key] = nil
                forgotten(user, key)
                removed = removed + 1
            end
        end
        return removed
    end
    --- Forgets one entry of the user; false and why when that could not be stored.
    local function forget(user, key)
        local record, err = index.read(user)
        if err ~= nil then
            return false, err
        end
        if record == nil or record[key] == nil then
            return true
        end
        record[key] = nil
        local ok, setErr = index.write(user, record)
        if not ok then
            return false, setErr
        end
        forgotten(user, key)
        return true
    end
    --- Makes an entry's token resolve no more, before its entry goes: true when the
    -- token is not known here (an entry from before stable endpoints, revoked by
    -- its key), so the cache must be cleared once the entries are gone.
    local function evict(key, entry, now)
        if entry.t ~= nil then
            resolved:set(entry.t, nil)
            return false
        end
        if entry.e < now then
            return false
        end
        backend.revokeKey(key, entry.e, now)
        return true
    end
    local function entry(user, key)
        local record, err = index.read(user)
        if err ~= nil then
            return nil, err
        end
        return record and record[key], nil
    end
    --- Where a token's pushes go now: its index entry's JID and expiry, if it is bound to one.
    local function current(token, claims)
        local key = tokenKey(token)
        if claims.u ~= nil then
            local user = claims.u
            local found, err = entry(user, key)
            if err ~= nil then
                return nil, "failed", err
            end
            if found == nil then
                return nil, "revoked"
            end
            if found.j == nil then
                return nil, "invalid"
            end
            local ____found_3 = found
            local sub = ____found_3.j
            local application = ____found_3.a
            local instance = ____found_3.i
            local exp = ____found_3.e
            return {
                sub = sub,
                user = user,
                key = key,
                application = application,
                instance = instance,
                exp = exp,
                indexed = true
            }, nil
        end
        local user = userOf(claims.sub)
        if claims.indexed == nil then
            local ____claims_4 = claims
            local sub = ____claims_4.sub
            local application = ____claims_4.application
            local instance = ____claims_4.instance
            local exp = ____claims_4.exp
            return {
                sub = sub,
                user = user,
                key = key,
                application = application,
                instance = instance,
                exp = exp
            }, nil
        end
        local found, err = entry(user, key)
        if err ~= nil then
            return nil, "failed", err
        end
        if found == nil then
            return nil, "revoked"
        end
        local ____claims_5 = claims
        local application = ____claims_5.application
        local instance = ____claims_5.instance
        local sub = found.j or claims.sub
        return {
            sub = sub,
            user = user,
            key = key,
            application = application,
            instance = instance,
            exp = found.e,
            indexed = true
        }, nil
    end
    --- A new endpoint for the app, stored with this turn's registrations.
    local function issue(user, record, fullJid, application, instance, exp, longest, registered)
        local token, reason = backend.issue({
            sub = fullJid,
            application = application,
            instance = instance,
            exp = exp,
            indexed = true
        })
        if token == nil then
            return registered(nil, "failed", reason)
        end
        local key = tokenKey(token)
        if #token > longest then
            backend.dropRecord(key)
            return registered(
                nil,
                "too-long",
                tostring(#token) .. " characters"
            )
        end
        record[key] = {
            a = application,
            i = instance,
            e = exp,
            t = token,
            j = fullJid
        }
        index.writeSoon(
            user,
            record,
            function(ok, err)
                if ok then
                    return registered(token, false, nil)
                end
                backend.dropRecord(key)
                registered(nil, "failed", err or "")
            end
        )
    end
    return {
        register = function(fullJid, application, instance, exp, now, longest, registered)
            local user = userOf(fullJid)
            local saved, err = index.read(user)
            if err ~= nil then
                return registered(nil, "failed", err)
            end
            local record = saved or ({})
            if prune(user, record, now) > 0 then
                index.writeSoon(
                    user,
                    record,
                    function() return nil end
                )
            end
            local renewed = renewable(record, application, instance)
            if renewed == nil then
                local count, known = countApps(record, application, instance)
                if not known and count >= context.maxPerUser then
                    return registered(
                        nil,
                        "limit",
                        tostring(count) .. " registrations"
                    )
                end
                return issue(
                    user,
                    record,
                    fullJid,
                    application,
                    instance,
                    exp,
                    longest,
                    registered
                )
            end
            renewed.e = exp
            renewed.j = fullJid
            local token = renewed.t
            local key = tokenKey(token)
            resolved:set(token, {
                sub = fullJid,
                user = user,
                key = key,
                application = application,
                instance = instance,
                exp = exp,
                indexed = true
            })
            index.writeSoon(
                user,
                record,
                function(ok, setErr)
                    if ok then
                        return registered(token, true, nil)
                    end
                    resolved:set(token, nil)
                    registered(nil, "failed", setErr or "")
                end
            )
        end,
        resolve = function(token, now)
            if not backend.wellFormed(token) then
                return nil, "invalid"
            end
            local registration = resolved:get(token)
            if registration == nil then
                local claims, failure, detail = backend.open(token)
                if claims == nil then
                    return nil, failure, detail
                end
                local found, stale, staleDetail = current(token, claims)
                if found == nil then
                    return nil, stale, staleDetail
                end
                registration = found
                resolved:set(token, registration)
            end
            if registration.exp < now then
                resolved:set(token, nil)
                return nil, "expired"
            end
            return registration, nil
        end,
        entry = entry,
        entries = index.read,
        revoke = function(token, registration, now)
            resolved:set(token, nil)
            local forgot, reason = forget(registration.user, registration.key)
            if not forgot then
                return false, reason
            end
            if registration.indexed ~= nil then
                revocations.gone:add(1)
                return true
            end
            local ok, failure = backend.revoke(token, registration.exp, now)
            if ok then
                revocations.gone:add(1)
            end
            return ok, failure
        end,
        revokeEntry = function(user, key, found)
            if found.t ~= nil then
                resolved:set(found.t, nil)
            end
            local forgot, reason = forget(user, key)
            if not forgot then
                return false, reason
            end
            revocations.gone:add(1)
            return true
        end,
        revokeApps = function(user, application, now)
            local record, err = index.read(user)
            if err ~= nil then
                return nil, err
            end
            if record == nil then
                return 0, nil
            end
            local gone = {}
            local unbound = false
            for key, found in pairs(record) do
                if application == nil or string.sub(found.a, 1, #application) == application then
                    if evict(key, found, now) then
                        unbound = true
                    end
                    gone[key] = true
                end
            end
            for key in pairs(gone) do
                record[key] = nil
            end
            local ok, setErr = index.write(user, record)
            if unbound then
                resolved:clear()
            end
            if not ok then
                return nil, setErr
            end
            local revoked = 0
            for key in pairs(gone) do
                forgotten(user, key)
                revoked = revoked + 1
            end
            revocations.admin:add(revoked)
            return revoked, nil
        end,
        removeUser = function(user, now)
            local record, err = index.read(user)
            if err ~= nil then
                return nil, err
            end
            if record == nil then
                return 0, nil
            end
            local ok, setErr = index.write(user, nil)
            if not ok then
                return nil, setErr
            end
            local removed = 0
            local unbound = false
            for key, found in pairs(record) do
                removed = removed + 1
                if evict(key, found, now) then
                    unbound = true
                end
                forgotten(user, key)
            end
            if unbound then
                resolved:clear()
            end
            revocations.account_deleted:add(removed)
            return removed, nil
        end,
        sweep = function(now, budget, finished)
            local users = index.users
            if users == nil then
                return nil
            end
            local function purge(user)
                local record = index.read(user, false)
                if record == nil then
                    return 0
                end
                local gone = prune(user, record, now)
                if gone > 0 then
                    index.write(user, record)
                end
                return gone
            end
            return walkUsers(users, purge, budget, finished)
        end,
        onForgotten = function(listener)
            listeners[#listeners + 1] = listener
        end
    }
end
return ____exports
 end,
["src.errors"] = function(...)
local ____exports = {}
local ____util_2Eerror = require("util.error")
local init = ____util_2Eerror.init
local ____protocol = require("src.protocol")
local MAX_BODY_BYTES = ____protocol.MAX_BODY_BYTES
____exports.errors = init(
    "unified_push",
    {
        ["unknown-endpoint"] = {type = "cancel", condition = "item-not-found", code = 404, text = "No such push endpoint (unknown, revoked or expired)"},
        ["body-too-large"] = {
            type = "modify",
            condition = "policy-violation",
            code = 413,
            text = ("Push message larger than " .. tostring(MAX_BODY_BYTES)) .. " bytes"
        },
        ["method-not-allowed"] = {type = "cancel", condition = "not-allowed", code = 405, text = "Push endpoints accept GET and POST, and DELETE on a kept message"},
        ["distributor-unavailable"] = {type = "wait", condition = "recipient-unavailable", code = 503, text = "The distributor is not reachable right now; try again later"},
        ["rate-limited"] = {type = "wait", condition = "policy-violation", code = 429, text = "Too many pushes to this endpoint; slow down"},
        ["too-many-in-flight"] = {type = "wait", condition = "resource-constraint", code = 429, text = "Too many pushes awaiting the distributor's answer; try again shortly"},
        ["too-much-kept"] = {type = "wait", condition = "resource-constraint", code = 429, text = "Too many push messages kept for this user's offline distributors; try again later"},
        ["unknown-message"] = {type = "cancel", condition = "item-not-found", code = 404, text = "No such push message (unknown, delivered or expired)"},
        internal = {type = "wait", condition = "internal-server-error", code = 500, text = "Internal error in the push service"}
    }
)
return ____exports
 end,
["src.httpanswer"] = function(...)
local ____exports = {}
local ____net_2Ehttp_2Eserver = require("net.http.server")
local fire_event = ____net_2Ehttp_2Eserver.fire_event
function ____exports.sendLater(response, outcome)
    local body
    if type(outcome) == "number" then
        local code = outcome
        response.status_code = code
        if code >= 400 then
            body = fire_event("http-error", {request = response.request, response = response, code = code})
        end
    elseif type(outcome) == "string" then
        body = outcome
    else
        local failure = outcome
        local code = failure.code or 500
        response.status_code = code
        body = fire_event("http-error", {request = response.request, response = response, code = code, error = failure})
    end
    response:send(body)
end
return ____exports
 end,
["src.log"] = function(...)
local ____exports = {}
return ____exports
 end,
["src.pending"] = function(...)
local ____exports = {}
local ____util_2Ejid = require("util.jid")
local bare = ____util_2Ejid.bare
local ____util_2Etime = require("util.time")
local monotonic = ____util_2Etime.monotonic
local GONE_CONDITIONS = {["item-not-found"] = true, ["feature-not-implemented"] = true}
local DELIVERED = {answer = "delivered", reason = "result", answered = true}
local TIMED_OUT = {answer = "unavailable", reason = "timeout", answered = false}
local WENT_OFFLINE = {answer = "unavailable", reason = "offline", answered = false}
local UNLOADED = {answer = "unavailable", reason = "unload", answered = false}
local LATE = {answer = "late", reason = "window", answered = false}
function ____exports.pendingPushes(context)
    local byId = {}
    local perUser = {}
    local stalled = {}
    local queue = {}
    local front = 1
    local back = 0
    local sweeper
    local windows = {}
    local windowFront = 1
    local windowBack = 0
    local windowSweeper
    local recovered = {}
    --- Dequeues pushes at the front that have already settled.
    local function skipSettled()
        while front <= back and byId[queue[front]] == nil do
            queue[front] = nil
            front = front + 1
        end
    end
    local function finish(id, settlement)
        local waiting = byId[id]
        if waiting == nil then
            return
        end
        byId[id] = nil
        local left = (perUser[waiting.user] or 1) - 1
        if left > 0 then
            perUser[waiting.user] = left
        else
            perUser[waiting.user] = nil
        end
        skipSettled()
        waiting.settle(
            settlement,
            context.clock() - waiting.sent
        )
    end
    local function enqueue(id)
        back = back + 1
        queue[back] = id
    end
    --- Times out what is overdue; returns the seconds until the next deadline, if any.
    local function sweep()
        local now = context.clock()
        skipSettled()
        while front <= back do
            local id = queue[front]
            local waiting = byId[id]
            if waiting.deadline > now then
                return waiting.deadline - now
            end
            if waiting.held and context.hasSession(waiting.to) then
                queue[front] = nil
                front = front + 1
                waiting.deadline = now + context.timeout
                enqueue(id)
                skipSettled()
            else
                finish(id, TIMED_OUT)
            end
        end
        sweeper = nil
        return nil
    end
    --- Settles "late" the pushes whose window has closed unanswered.
    local function sweepWindows()
        local now = context.clock()
        while windowFront <= windowBack do
            local waiting = byId[windows[windowFront]]
            if waiting ~= nil and waiting.windowed then
                local closes = waiting.sent + context.window
                if closes > now then
                    return closes - now
                end
                waiting.windowed = false
                waiting.held = true
                stalled[waiting.to] = true
                waiting.settle(LATE, now - waiting.sent)
            end
            windows[windowFront] = nil
            windowFront = windowFront + 1
        end
        windowSweeper = nil
        return nil
    end
    return {
        send = function(iq, user, settle, mode)
            local id = iq.attr.id
            local to = iq.attr.to
            local sent = context.clock()
            local windowed = mode == "window"
            local held = mode == "held"
            byId[id] = {
                to = to,
                user = user,
                settle = settle,
                sent = sent,
                deadline = sent + context.timeout,
                windowed = windowed,
                held = held
            }
            enqueue(id)
            perUser[user] = (perUser[user] or 0) + 1
            if sweeper == nil then
                sweeper = context.addTimer(context.timeout, sweep)
            end
            if windowed then
                windowBack = windowBack + 1
                windows[windowBack] = id
                if windowSweeper == nil then
                    windowSweeper = context.addTimer(context.window, sweepWindows)
                end
            end
            context.send(iq)
        end,
        stalled = function(fullJid)
            return stalled[fullJid] ~= nil
        end,
        answer = function(reply)
            local id = reply.attr.id
            if id == nil then
                return false
            end
            local waiting = byId[id]
            if waiting == nil or waiting.to ~= reply.attr.from then
                return false
            end
            if reply.attr.type == "result" then
                finish(id, DELIVERED)
            else
                local ____, condition = reply:get_error()
                local reason = condition or "undefined-condition"
                local answer = GONE_CONDITIONS[reason] == true and "gone" or "unavailable"
                finish(id, {answer = answer, reason = reason, answered = true})
            end
            local to = waiting.to
            if stalled[to] ~= nil then
                stalled[to] = nil
                if reply.attr.type == "result" then
                    for ____, listener in ipairs(recovered) do
                        listener(to)
                    end
                end
            end
            return true
        end,
        dropTarget = function(fullJid)
            stalled[fullJid] = nil
            if perUser[bare(fullJid) or fullJid] == nil then
                return
            end
            for id, waiting in pairs(byId) do
                if waiting.to == fullJid then
                    finish(id, WENT_OFFLINE)
                end
            end
        end,
        dropAll = function()
            for id in pairs(byId) do
                finish(id, UNLOADED)
            end
            if sweeper ~= nil then
                sweeper:stop()
            end
            sweeper = nil
            if windowSweeper ~= nil then
                windowSweeper:stop()
            end
            windowSweeper = nil
        end,
        countFor = function(user)
            return perUser[user] or 0
        end,
        total = function()
            local waiting = 0
            for ____, count in pairs(perUser) do
                waiting = waiting + count
            end
            return waiting
        end,
        onRecovered = function(listener)
            recovered[#recovered + 1] = listener
        end
    }
end
--- Takes the distributors' answers to our pushes, before mod_iq looks for per-id handlers.
function ____exports.hookAnswers(module, pending)
    module:hook(
        "iq/host",
        function(event)
            local kind = event.stanza.attr.type
            if (kind == "result" or kind == "error") and pending.answer(event.stanza) then
                return true
            end
            return nil
        end,
        10
    )
end
--- Pushes sent by `module`: on its timers, Prosody's sessions and the monotonic clock.
function ____exports.pendingPushesOf(module, timeout, window)
    return ____exports.pendingPushes({
        send = function(stanza) return module:send(stanza) end,
        addTimer = function(delay, callback) return module:add_timer(delay, callback) end,
        clock = monotonic,
        timeout = timeout,
        window = window,
        hasSession = function(fullJid) return prosody.full_sessions[fullJid] ~= nil end
    })
end
return ____exports
 end,
["src.mailbox"] = function(...)
local ____exports = {}
local archiveName, isEmpty, removedAny, countUser, noteRemoval, keptOf, itemsOf, setCount, heal, removeEach, removeDone, finishBucket, endFlush, sendMore, flushBucket, drop, FLUSH_WINDOW, BUCKET_SIZE
local ____util_2Ejid = require("util.jid")
local bare = ____util_2Ejid.bare
local ____util_2Estanza = require("util.stanza")
local stanza = ____util_2Estanza.stanza
local ____protocol = require("src.protocol")
local pushElement = ____protocol.pushElement
local pushIqWith = ____protocol.pushIqWith
local ____slices = require("src.slices")
local walkUsers = ____slices.walkUsers
function archiveName(key, bucket)
    return bucket == 0 and key or (key .. "#") .. tostring(bucket)
end
function isEmpty(record)
    local first = next(record)
    return first == nil
end
function removedAny(result)
    return result == true or type(result) == "number" and result > 0
end
function countUser(state, user, record)
    local ____state_0 = state
    local counted = ____state_0.counted
    if counted == nil or counted[user] ~= nil then
        return
    end
    counted[user] = true
    if record == nil then
        return
    end
    for key, counts in pairs(record) do
        state.totalMessages = state.totalMessages + counts.n
        state.totalBytes = state.totalBytes + counts.b
        state.known[key] = true
    end
end
function noteRemoval(state, name)
    state.removals[name] = (state.removals[name] or 0) + 1
end
function keptOf(state, user, key)
    local record = state.context.kept:get(user)
    local ____temp_1
    if record == nil or record == false then
        ____temp_1 = nil
    else
        ____temp_1 = record[key]
    end
    return ____temp_1
end
function itemsOf(state, name, topic)
    local ____self_4 = state.context.messages
    local ____self_4_find_5 = ____self_4.find
    local ____name_3 = name
    local ____temp_2
    if topic == nil then
        ____temp_2 = nil
    else
        ____temp_2 = {with = topic}
    end
    local found, err = ____self_4_find_5(____self_4, ____name_3, ____temp_2)
    if found == nil or found == false then
        return nil, tostring(err)
    end
    local items = {}
    for id, message, ____, withTopic in found do
        local ____id_7 = id
        local ____message_8 = message
        local ____temp_9 = tonumber(message.attr.bytes) or 0
        local ____temp_10 = tonumber(message.attr.expires) or 0
        local ____temp_6
        if withTopic == "" then
            ____temp_6 = nil
        else
            ____temp_6 = withTopic
        end
        items[#items + 1] = {
            id = ____id_7,
            message = ____message_8,
            bytes = ____temp_9,
            expires = ____temp_10,
            topic = ____temp_6
        }
    end
    return items, nil
end
function setCount(state, user, key, change)
    local ____state_context_11 = state.context
    local kept = ____state_context_11.kept
    local record, err = kept:get(user)
    if err ~= nil then
        return false
    end
    countUser(state, user, record)
    local counts = record or ({})
    local found = counts[key]
    if found == nil and change.exact and change.n <= 0 then
        return true
    end
    local current = found or ({
        n = 0,
        b = 0,
        f = 0,
        l = 0,
        c = 0
    })
    local n = change.exact and change.n or current.n + change.n
    local b = change.exact and change.b or current.b + change.b
    if n <= 0 then
        n = 0
        b = 0
    end
    if n > 0 then
        state.known[key] = true
    else
        state.known[key] = nil
    end
    local moved = change.first ~= nil or change.appendedTo ~= nil
    local gone = n == 0 and (change.exact or (current.f or 0) == 0 and (current.l or 0) == 0)
    if n == current.n and b == current.b and not moved and not (gone and found ~= nil) then
        return true
    end
    if gone then
        counts[key] = nil
    else
        local updated = {
            n = n,
            b = math.max(0, b),
            f = current.f,
            l = current.l,
            c = current.c,
            t = current.t
        }
        if change.appendedTo ~= nil then
            updated.c = change.appendedTo == (current.l or 0) and (current.c or BUCKET_SIZE) + 1 or 1
            updated.l = change.appendedTo
            if change.topic ~= nil then
                if updated.t == nil then
                    updated.t = {}
                end
                updated.t[change.topic] = change.appendedTo
            end
        end
        if change.first ~= nil then
            updated.f = change.first
            if updated.t ~= nil then
                for topic, bucket in pairs(updated.t) do
                    if bucket < change.first then
                        updated.t[topic] = nil
                    end
                end
            end
        end
        counts[key] = updated
    end
    local ____kept_14 = kept
    local ____kept_set_15 = kept.set
    local ____user_13 = user
    local ____isEmpty_result_12
    if isEmpty(counts) then
        ____isEmpty_result_12 = nil
    else
        ____isEmpty_result_12 = counts
    end
    local ok = ____kept_set_15(____kept_14, ____user_13, ____isEmpty_result_12)
    if ok ~= true then
        return false
    end
    state.totalMessages = state.totalMessages + (n - current.n)
    state.totalBytes = state.totalBytes + (math.max(0, b) - current.b)
    return true
end
function heal(state, user, key, current, items)
    local bytes = 0
    for ____, item in ipairs(items) do
        bytes = bytes + item.bytes
    end
    local agrees = current ~= nil and current.n == #items and current.b == bytes
    if agrees and #items > 0 then
        return
    end
    if not agrees and (current ~= nil or #items > 0) then
        state.context.log("debug", "Kept push messages of an endpoint counted %d, stored %d: corrected", current and current.n or 0, #items)
    end
    setCount(state, user, key, {n = #items, b = bytes, exact = true})
end
function removeEach(state, name, items)
    local gone = 0
    local bytes = 0
    for ____, item in ipairs(items) do
        local result = state.context.messages:delete(name, {key = item.id})
        if removedAny(result) then
            gone = gone + 1
            bytes = bytes + item.bytes
            state.held[name .. item.id] = nil
        end
    end
    if gone > 0 then
        noteRemoval(state, name)
    end
    return gone, bytes
end
function removeDone(state, flush)
    local ____flush_27 = flush
    local items = ____flush_27.items
    local done = ____flush_27.done
    local name = ____flush_27.name
    local user = ____flush_27.user
    local key = ____flush_27.key
    local ____state_context_28 = state.context
    local removed = ____state_context_28.removed
    local messages = ____state_context_28.messages
    local prefix = 0
    local prefixBytes = 0
    while prefix < #items and done[prefix] ~= nil do
        prefixBytes = prefixBytes + items[prefix + 1].bytes
        prefix = prefix + 1
    end
    local untouched = (state.removals[name] or 0) == flush.removalsBefore
    local from = 0
    local whole = false
    if untouched and prefix == #items and flush.bucket < flush.last then
        local result = messages:delete(name)
        whole = result ~= nil and result ~= false
        if whole then
            from = prefix
        end
    elseif untouched and prefix > 0 then
        local appended = (state.appended[name] or 0) - flush.appendedBefore
        local result = messages:delete(name, {truncate = #items - prefix + appended})
        if result == prefix then
            from = prefix
        elseif removedAny(result) then
            noteRemoval(state, name)
        end
    end
    local gone = from
    local bytes = from == prefix and prefixBytes or 0
    if from > 0 then
        noteRemoval(state, name)
        do
            local i = 0
            while i < from do
                state.held[name .. items[i + 1].id] = nil;
                (done[i] == true and removed.expired or removed.delivered):add(1)
                i = i + 1
            end
        end
    end
    do
        local i = from
        while i < #items do
            local expired = done[i]
            if expired ~= nil then
                local one, oneBytes = removeEach(state, name, {items[i + 1]});
                (expired and removed.expired or removed.delivered):add(one)
                gone = gone + one
                bytes = bytes + oneBytes
            end
            i = i + 1
        end
    end
    if gone > 0 or whole then
        setCount(state, user, key, {n = -gone, b = -bytes, exact = false, first = whole and flush.bucket + 1 or nil})
    end
    return whole
end
function finishBucket(state, flush)
    local ____state_29 = state
    local context = ____state_29.context
    local ____flush_30 = flush
    local user = ____flush_30.user
    local key = ____flush_30.key
    local target = ____flush_30.target
    local bucket = ____flush_30.bucket
    local name = ____flush_30.name
    local whole = removeDone(state, flush)
    if flush.appGone then
        endFlush(state, key, target)
        local ok, reason = context.endpoints.revokeEntry(user, key, flush.entry)
        if not ok then
            context.log("warn", "Could not revoke a push endpoint: %s", reason)
        end
        return
    end
    local current = keptOf(state, user, key)
    local last = current and current.l or 0
    if not whole then
        local left = itemsOf(state, name)
        if left ~= nil and (current and current.f or 0) == bucket and last == bucket then
            heal(
                state,
                user,
                key,
                current,
                left
            )
        end
        local arrived = (state.appended[name] or 0) > flush.appendedBefore
        if not flush.stopped and arrived and left ~= nil and #left > 0 then
            flushBucket(
                state,
                user,
                key,
                flush.entry,
                target,
                bucket
            )
            return
        end
    end
    if not flush.stopped and bucket < last then
        flushBucket(
            state,
            user,
            key,
            flush.entry,
            target,
            bucket + 1
        )
        return
    end
    endFlush(state, key, target)
    context.log("debug", "Sent kept push messages to <%s>", target)
end
function endFlush(state, key, target)
    if state.flushing[key] == target then
        state.flushing[key] = nil
    end
end
function sendMore(state, flush)
    local ____state_35 = state
    local context = ____state_35.context
    while not flush.stopped and flush.waiting < FLUSH_WINDOW and flush.next < #flush.due do
        local index = flush.due[flush.next + 1]
        flush.next = flush.next + 1
        flush.waiting = flush.waiting + 1
        local push = pushIqWith(
            context.service,
            flush.target,
            context.newId(),
            flush.items[index + 1].message.tags[1]
        )
        context.pending.send(
            push,
            flush.user,
            function(settled)
                flush.waiting = flush.waiting - 1
                if settled.answer == "delivered" then
                    flush.done[index] = false
                else
                    flush.stopped = true
                    if settled.answer == "gone" then
                        flush.appGone = true
                    end
                end
                if flush.waiting == 0 and (flush.stopped or flush.next >= #flush.due) then
                    finishBucket(state, flush)
                else
                    sendMore(state, flush)
                end
            end
        )
    end
end
function flushBucket(state, user, key, entry, target, bucket)
    local ____state_36 = state
    local context = ____state_36.context
    local name = archiveName(key, bucket)
    local removalsBefore = state.removals[name] or 0
    local appendedBefore = state.appended[name] or 0
    local items, err = itemsOf(state, name)
    if items == nil then
        context.log("warn", "Could not read kept push messages: %s", err)
        endFlush(state, key, target)
        return
    end
    local current = keptOf(state, user, key)
    local last = current and current.l or 0
    if (current and current.f or 0) == bucket and last == bucket then
        heal(
            state,
            user,
            key,
            current,
            items
        )
    end
    local now = context.now()
    local due = {}
    local done = {}
    do
        local i = 0
        while i < #items do
            local item = items[i + 1]
            if item.expires < now then
                done[i] = true
            elseif state.held[name .. item.id] == nil then
                due[#due + 1] = i
            end
            i = i + 1
        end
    end
    state.flushing[key] = target
    local flush = {
        user = user,
        key = key,
        entry = entry,
        target = target,
        bucket = bucket,
        name = name,
        last = last,
        items = items,
        due = due,
        done = done,
        removalsBefore = removalsBefore,
        appendedBefore = appendedBefore,
        next = 0,
        waiting = 0,
        stopped = false,
        appGone = false
    }
    if #due == 0 then
        finishBucket(state, flush)
    else
        sendMore(state, flush)
    end
end
function drop(state, user, key)
    local ____state_45 = state
    local context = ____state_45.context
    local current = keptOf(state, user, key)
    do
        local bucket = current and current.f or 0
        while bucket <= (current and current.l or 0) do
            local name = archiveName(key, bucket)
            context.messages:delete(name)
            noteRemoval(state, name)
            bucket = bucket + 1
        end
    end
    if current == nil then
        return
    end
    if setCount(state, user, key, {n = 0, b = 0, exact = true}) then
        context.removed.endpoint_gone:add(current.n)
    end
end
--- The element a message is archived as; its one child is the `<push/>` to send.
local KEPT = "kept"
local KEPT_NS = "urn:x-mod-unified-push:kept"
FLUSH_WINDOW = 8
BUCKET_SIZE = 100
--- A message's id outside the mailbox: its bucket (unless 0) and its archive id.
local function messageId(bucket, archiveId)
    return bucket == 0 and archiveId or (tostring(bucket) .. ".") .. archiveId
end
--- The bucket and archive id in a message's id (archive ids have no ".").
local function parseMessageId(id)
    local bucket, archiveId = string.match(id, "^(%d+)%.(.+)$")
    if bucket == nil or archiveId == nil then
        return 0, id
    end
    return tonumber(bucket) or 0, archiveId
end
--- The message of `topic` an endpoint keeps, in the bucket the record names
-- (records from before buckets: bucket 0); empty when there is none.
local function topicItems(state, key, current, topic)
    local bucket
    if current ~= nil and current.c == nil then
        bucket = 0
    elseif (current and current.t) ~= nil then
        bucket = current.t[topic]
    end
    if bucket == nil or bucket < (current and current.f or 0) then
        return {}, 0, nil
    end
    local items, err = itemsOf(
        state,
        archiveName(key, bucket),
        topic
    )
    if items == nil then
        return nil, bucket, err
    end
    return items, bucket, nil
end
local function keep(state, user, key, application, instance, body, ttl, topic, held)
    local ____state_22 = state
    local context = ____state_22.context
    local record, err = context.kept:get(user)
    if err ~= nil then
        return nil, "failed", tostring(err)
    end
    local messagesKept = 0
    local bytesKept = 0
    local current
    if record ~= nil then
        for endpoint, counts in pairs(record) do
            messagesKept = messagesKept + counts.n
            bytesKept = bytesKept + counts.b
            if endpoint == key then
                current = counts
            end
        end
    end
    local endpointKept = current and current.n or 0
    local replaced = {}
    local replacedBucket = 0
    if topic ~= nil then
        local items, bucket, findErr = topicItems(state, key, current, topic)
        if items == nil then
            return nil, "failed", findErr
        end
        replaced = items
        replacedBucket = bucket
        for ____, item in ipairs(items) do
            messagesKept = messagesKept - 1
            endpointKept = endpointKept - 1
            bytesKept = bytesKept - item.bytes
        end
    end
    if endpointKept + 1 > context.maxPerEndpoint then
        return nil, "full", tostring(endpointKept) .. " messages kept for the endpoint"
    end
    if messagesKept + 1 > context.maxMessages then
        return nil, "full", tostring(messagesKept) .. " messages kept"
    end
    if bytesKept + #body > context.maxBytes then
        return nil, "full", tostring(bytesKept) .. " bytes kept"
    end
    local now = context.now()
    local message = stanza(
        KEPT,
        {
            xmlns = KEPT_NS,
            user = user,
            bytes = tostring(#body),
            expires = tostring(now + ttl)
        }
    ):add_child(pushElement(application, instance, body))
    local replacedCount, replacedBytes = removeEach(
        state,
        archiveName(key, replacedBucket),
        replaced
    )
    context.removed.replaced:add(replacedCount)
    local bucket = current and current.l or 0
    if current ~= nil and (current.c or BUCKET_SIZE) >= BUCKET_SIZE then
        bucket = bucket + 1
    end
    local name = archiveName(key, bucket)
    local id, appendErr = context.messages:append(
        name,
        nil,
        message,
        now,
        topic
    )
    if id == nil or id == false then
        setCount(state, user, key, {n = -replacedCount, b = -replacedBytes, exact = false})
        return nil, "failed", tostring(appendErr)
    end
    state.appended[name] = (state.appended[name] or 0) + 1
    local counted = setCount(state, user, key, {
        n = 1 - replacedCount,
        b = #body - replacedBytes,
        exact = false,
        appendedTo = bucket,
        topic = topic
    })
    if not counted then
        context.messages:delete(name, {key = id})
        noteRemoval(state, name)
        return nil, "failed", "could not update the count of kept messages"
    end
    if held == true then
        state.held[name .. id] = true
    end
    state.known[key] = true
    return messageId(bucket, id), nil, nil
end
local function settleHeld(state, user, key, id, bytes, delivered)
    local bucket, archiveId = parseMessageId(id)
    local name = archiveName(key, bucket)
    if state.held[name .. archiveId] == nil then
        return
    end
    state.held[name .. archiveId] = nil
    if not delivered then
        return
    end
    local result = state.context.messages:delete(name, {key = archiveId})
    if not removedAny(result) then
        return
    end
    noteRemoval(state, name)
    state.context.removed.delivered:add(1)
    setCount(state, user, key, {n = -1, b = -bytes, exact = false})
end
local function flushFor(state, fullJid)
    local ____state_41 = state
    local context = ____state_41.context
    local user = bare(fullJid) or fullJid
    local record, err = context.kept:get(user)
    if err ~= nil or record == nil then
        return
    end
    local started = false
    for key, counts in pairs(record) do
        if state.flushing[key] ~= fullJid then
            local entry, entryErr = context.endpoints.entry(user, key)
            if entryErr ~= nil then
                context.log("warn", "Could not look up a push endpoint: %s", entryErr)
            elseif entry == nil or entry.e < context.now() then
                drop(state, user, key)
            elseif entry.j == fullJid and not started then
                started = true
                flushBucket(
                    state,
                    user,
                    key,
                    entry,
                    fullJid,
                    counts.f or 0
                )
            elseif entry.j == fullJid then
                state.flushing[key] = fullJid
                context.later(function()
                    if state.flushing[key] ~= fullJid then
                        return
                    end
                    local ____opt_42 = keptOf(state, user, key)
                    local first = ____opt_42 and ____opt_42.f or 0
                    flushBucket(
                        state,
                        user,
                        key,
                        entry,
                        fullJid,
                        first
                    )
                end)
            end
        end
    end
end
local function cancel(state, key, id)
    local ____state_44 = state
    local context = ____state_44.context
    local bucket, archiveId = parseMessageId(id)
    local name = archiveName(key, bucket)
    local found, err = context.messages:find(name, {key = archiveId})
    if found == nil or found == false then
        return nil, tostring(err)
    end
    local message
    for ____, value in found do
        message = value
    end
    if message == nil then
        return false, nil
    end
    local result, deleteErr = context.messages:delete(name, {key = archiveId})
    if result == nil or result == false then
        return nil, tostring(deleteErr)
    end
    if not removedAny(result) then
        return false, nil
    end
    noteRemoval(state, name)
    state.held[name .. archiveId] = nil
    local user = message.attr.user
    if user ~= nil then
        setCount(
            state,
            user,
            key,
            {
                n = -1,
                b = -(tonumber(message.attr.bytes) or 0),
                exact = false
            }
        )
    end
    local live = (tonumber(message.attr.expires) or 0) >= context.now();
    (live and context.removed.cancelled or context.removed.expired):add(1)
    return live, nil
end
--- Deletes an endpoint's expired messages, and its buckets left empty before
-- the last; corrects its count from what it read. How many messages went.
local function removeExpired(state, user, key, current, now)
    local last = current.l or 0
    local live = {}
    local swept = 0
    local sweptBytes = 0
    local complete = true
    local first = current.f or 0
    do
        local bucket = first
        while bucket <= last do
            local name = archiveName(key, bucket)
            local items = itemsOf(state, name)
            if items == nil then
                complete = false
            else
                local expired = {}
                for ____, item in ipairs(items) do
                    local ____temp_50 = item.expires < now and expired or live
                    ____temp_50[#____temp_50 + 1] = item
                end
                local gone, bytes = removeEach(state, name, expired)
                swept = swept + gone
                sweptBytes = sweptBytes + bytes
                if gone ~= #expired then
                    complete = false
                elseif complete and bucket == first and bucket < last and #items == gone then
                    first = first + 1
                end
            end
            bucket = bucket + 1
        end
    end
    state.context.removed.expired:add(swept)
    if complete then
        heal(
            state,
            user,
            key,
            current,
            live
        )
        if first ~= (current.f or 0) and #live > 0 then
            setCount(state, user, key, {n = 0, b = 0, exact = false, first = first})
        end
    elseif swept > 0 then
        setCount(state, user, key, {n = -swept, b = -sweptBytes, exact = false})
    end
    return swept
end
--- Removes a user's expired messages; how many went.
local function sweepUser(state, user, now)
    local record, err = state.context.kept:get(user)
    if err ~= nil or record == nil then
        return 0
    end
    local endpoints = {}
    for key, counts in pairs(record) do
        endpoints[#endpoints + 1] = {key, counts}
    end
    local swept = 0
    for ____, ____value in ipairs(endpoints) do
        local key = ____value[1]
        local counts = ____value[2]
        if state.flushing[key] == nil then
            swept = swept + removeExpired(
                state,
                user,
                key,
                counts,
                now
            )
        end
    end
    return swept
end
function ____exports.mailbox(context)
    local ____context_51 = context
    local kept = ____context_51.kept
    local state = {
        context = context,
        flushing = {},
        appended = {},
        known = {},
        held = {},
        removals = {},
        counted = nil,
        totalMessages = 0,
        totalBytes = 0
    }
    context.endpoints.onForgotten(function(user, key) return drop(state, user, key) end)
    context.pending.onRecovered(function(fullJid) return flushFor(state, fullJid) end)
    return {
        keep = function(user, key, application, instance, body, ttl, topic, held) return keep(
            state,
            user,
            key,
            application,
            instance,
            body,
            ttl,
            topic,
            held
        ) end,
        settleHeld = function(user, key, id, bytes, delivered) return settleHeld(
            state,
            user,
            key,
            id,
            bytes,
            delivered
        ) end,
        hasKept = function(user, key)
            if state.counted ~= nil and state.counted[user] == nil then
                local record, err = kept:get(user)
                if err == nil then
                    countUser(state, user, record)
                end
            end
            return state.known[key] ~= nil or state.flushing[key] ~= nil
        end,
        flush = function(fullJid) return flushFor(state, fullJid) end,
        cancel = function(key, id) return cancel(state, key, id) end,
        sweep = function(budget, finished)
            if kept.users == nil then
                return nil
            end
            local now = context.now()
            return walkUsers(
                function() return kept.users(kept) end,
                function(user) return sweepUser(state, user, now) end,
                budget,
                finished
            )
        end,
        keptBy = function(user)
            local record, err = kept:get(user)
            if err ~= nil then
                return nil, tostring(err)
            end
            return record, nil
        end,
        totals = function() return state.totalMessages, state.totalBytes end,
        count = function(budget)
            if kept.users == nil then
                return nil
            end
            state.counted = {}
            local function tally(user)
                local record, err = kept:get(user)
                if err == nil then
                    countUser(state, user, record)
                end
                return 0
            end
            local function finished(err)
                state.counted = nil
                if err ~= nil then
                    context.log("warn", "Could not count kept push messages: %s", err)
                end
            end
            return walkUsers(
                function() return kept.users(kept) end,
                tally,
                budget,
                finished
            )
        end
    }
end
return ____exports
 end,
["src.ratelimit"] = function(...)
local ____exports = {}
local ____util_2Ecache = require("util.cache")
local newCache = ____util_2Ecache.new
--- The slot of `key` (1 to `slots`) in the table of debts. Keys are token keys,
-- hex digests whose first digits are uniform already; others are hashed.
local function slotOf(key, slots)
    local digits = tonumber(
        string.sub(key, 1, 7),
        16
    )
    if digits ~= nil then
        return digits % slots + 1
    end
    local hash = 0
    do
        local i = 1
        while i <= #key do
            hash = (hash * 31 + string.byte(key, i)) % slots
            i = i + 1
        end
    end
    return hash + 1
end
--- `rate` tokens a second, up to `burst` saved up, for `tracked` endpoints at a
-- time. An endpoint evicted before its bucket was full again comes back with
-- what it owed (or what another evicted endpoint of its slot owes, whichever is
-- more: a shared slot errs towards limiting, only until that debt is paid).
function ____exports.rateLimiter(rate, burst, tracked)
    --- Slot -> when the buckets evicted into it will all be full again.
    local fullAt = {}
    local buckets = newCache(
        tracked,
        function(key, bucket)
            local owed = burst - bucket.tokens
            if owed <= 0 then
                return
            end
            local slot = slotOf(key, tracked)
            local at = bucket.updated + owed / rate
            if at > (fullAt[slot] or 0) then
                fullAt[slot] = at
            end
        end
    )
    return {take = function(key, now)
        local bucket = buckets:get(key)
        if bucket == nil then
            local tokens = burst
            local slot = slotOf(key, tracked)
            local owedUntil = fullAt[slot]
            if owedUntil ~= nil then
                if owedUntil > now then
                    tokens = math.max(0, burst - (owedUntil - now) * rate)
                else
                    fullAt[slot] = nil
                end
            end
            bucket = {tokens = tokens, updated = now}
            buckets:set(key, bucket)
        else
            local elapsed = now - bucket.updated
            if elapsed > 0 then
                bucket.tokens = math.min(burst, bucket.tokens + elapsed * rate)
            end
            bucket.updated = now
        end
        if bucket.tokens >= 1 then
            bucket.tokens = bucket.tokens - 1
            return 0
        end
        return math.ceil((1 - bucket.tokens) / rate)
    end}
end
return ____exports
 end,
["src.pushheaders"] = function(...)
local ____exports = {}
local URGENCIES = {["very-low"] = "very-low", low = "low", normal = "normal", high = "high"}
--- Larger TTLs are taken as this (a year); nothing here keeps messages longer.
local MAX_TTL = 31536000
local MAX_TOPIC_LENGTH = 32
--- The push options of a request: no problem, then the TTL (seconds the app server
-- wants the message kept if it cannot be delivered now; undefined when it did not
-- say, as many UnifiedPush senders do not), the urgency and the topic (replaces an
-- earlier undelivered message with the same topic). Or the reason the request is
-- malformed. Values, not a table: this runs on every push.
function ____exports.parsePushHeaders(headers)
    local ttlText = headers.ttl
    local urgencyText = headers.urgency
    local topic = headers.topic
    local ttl
    if ttlText ~= nil then
        if (string.find(ttlText, "^%d+$")) == nil then
            return "TTL must be a whole number of seconds"
        end
        ttl = math.min(
            tonumber(ttlText),
            MAX_TTL
        )
    end
    local urgency = "normal"
    if urgencyText ~= nil then
        local known = URGENCIES[string.lower(urgencyText)]
        if known == nil then
            return "Urgency must be very-low, low, normal or high"
        end
        urgency = known
    end
    if topic ~= nil and (#topic > MAX_TOPIC_LENGTH or (string.find(topic, "^[%w_-]+$")) == nil) then
        return "Topic must be 1 to 32 characters of the base64url alphabet"
    end
    return nil, ttl, urgency, topic
end
return ____exports
 end,
["src.relay"] = function(...)
local ____exports = {}
local keepAndSend, outcome, keepForLater, keepCopy, lateOutcome
local ____errors = require("src.errors")
local errors = ____errors.errors
local ____protocol = require("src.protocol")
local MAX_BODY_BYTES = ____protocol.MAX_BODY_BYTES
local pushIq = ____protocol.pushIq
local ____pushheaders = require("src.pushheaders")
local parsePushHeaders = ____pushheaders.parsePushHeaders
--- An answer asking the app server to try again in `seconds`.
function ____exports.retryLater(response, seconds, ____error)
    response.headers.retry_after = tostring(seconds)
    return errors.new(____error)
end
function keepAndSend(context, token, registration, body, ttl, topic, response)
    local send = context.pending.countFor(registration.user) < context.maxInFlight
    local answer, copy = keepCopy(
        context,
        registration,
        body,
        ttl,
        topic,
        response,
        send
    )
    if copy == nil or not send then
        return answer
    end
    local iq = pushIq(
        context.service,
        registration.sub,
        context.newId(),
        registration.application,
        registration.instance,
        body
    )
    context.pending.send(
        iq,
        registration.user,
        function(settled) return lateOutcome(
            context,
            settled,
            token,
            registration,
            copy,
            #body
        ) end,
        "held"
    )
    return answer
end
function outcome(context, settled, token, registration, id, response)
    local to = registration.sub
    if settled.answer == "delivered" then
        context.log("debug", "Push %s delivered to <%s>", id, to)
        response.headers.ttl = "0"
        response.headers.location = context.locationFor(id)
        context.pushes.delivered:add(1)
        return 201
    end
    if settled.answer == "gone" then
        context.log(
            "debug",
            "Push %s refused by <%s> (%s): revoking the endpoint",
            id,
            to,
            settled.reason
        )
        local revoked, reason = context.endpoints.revoke(
            token,
            registration,
            context.now()
        )
        if not revoked then
            context.log("warn", "Could not revoke a push endpoint: %s", reason)
        end
        context.pushes.gone:add(1)
        return errors.new("unknown-endpoint")
    end
    context.log(
        "debug",
        "Push %s not delivered to <%s>: %s",
        id,
        to,
        settled.reason
    )
    context.pushes.unavailable:add(1)
    return ____exports.retryLater(response, ____exports.RETRY_AFTER_SECONDS, "distributor-unavailable")
end
function keepForLater(context, registration, body, ttl, topic, response)
    local answer = keepCopy(
        context,
        registration,
        body,
        ttl,
        topic,
        response,
        false
    )
    return answer
end
function keepCopy(context, registration, body, ttl, topic, response, held)
    if held == nil then
        held = true
    end
    local to = registration.sub
    if registration.indexed == nil then
        context.log("debug", "Push for <%s> not relayed: distributor away", to)
        context.pushes.unavailable:add(1)
        return ____exports.retryLater(response, ____exports.RETRY_AFTER_SECONDS, "distributor-unavailable"), nil
    end
    if ttl <= 0 then
        context.log("debug", "Push for <%s> with no time to keep: expired", to)
        context.pushes.unavailable:add(1)
        response.headers.ttl = "0"
        response.headers.location = context.locationFor(context.newId())
        return 201, nil
    end
    local key = registration.key
    local id, refusal, detail = context.mailbox.keep(
        registration.user,
        key,
        registration.application,
        registration.instance,
        body,
        ttl,
        topic,
        held
    )
    if id == nil then
        if refusal == "full" then
            context.log("debug", "Push for <%s> not kept: %s already", to, detail)
            context.pushes.limited:add(1)
            return ____exports.retryLater(response, ____exports.RETRY_AFTER_SECONDS, "too-much-kept"), nil
        end
        context.log("warn", "Could not keep a push message: %s", detail)
        context.pushes.failed:add(1)
        return errors.new("internal"), nil
    end
    context.log("debug", "Push for <%s> kept for %d s", to, ttl)
    context.pushes.stored:add(1)
    response.headers.ttl = tostring(ttl)
    response.headers.location = context.keptLocationFor(key, id)
    return 201, id
end
function lateOutcome(context, settled, token, registration, copy, bytes)
    context.log("debug", "Late answer from <%s>: %s", registration.sub, settled.reason)
    if copy ~= nil then
        local key = registration.key
        context.mailbox.settleHeld(
            registration.user,
            key,
            copy,
            bytes,
            settled.answer == "delivered"
        )
    end
    if settled.answer == "gone" then
        local revoked, reason = context.endpoints.revoke(
            token,
            registration,
            context.now()
        )
        if not revoked then
            context.log("warn", "Could not revoke a push endpoint: %s", reason)
        end
    end
end
--- Longer tokens are no backend's (paseto and jwt tokens are a few hundred
-- characters): refused before any lookup. Each backend checks its own shape.
local LONGEST_TOKEN = 1024
--- Seconds an app server is asked to wait before retrying a 503.
____exports.RETRY_AFTER_SECONDS = 60
--- What relayPush returns when the answer waits for the distributor: `true`, as
-- Prosody's HTTP server reads it from a handler ("the response is sent later").
-- Not a util.promise: Prosody runs each new promise and each `next` through a
-- timer task, two timer-heap entries per push for nothing (bench/README.md).
____exports.LATER = true
--- Handles one POST to an endpoint: the answer now, or LATER and the answer to
-- `reply` once the distributor has settled the push.
function ____exports.relayPush(context, token, request, response, reply)
    local pushes = context.pushes
    if #token > LONGEST_TOKEN then
        pushes.unknown_endpoint:add(1)
        return errors.new("unknown-endpoint")
    end
    local registration, failure, detail = context.endpoints.resolve(
        token,
        context.now()
    )
    if registration == nil then
        if failure == "failed" then
            context.log("warn", "Could not look up a push endpoint in storage: %s", detail)
            pushes.failed:add(1)
            return errors.new("internal")
        end
        context.log("debug", "Push to an %s endpoint", failure)
        pushes.unknown_endpoint:add(1)
        return errors.new("unknown-endpoint")
    end
    local body = request.body or ""
    if #body > MAX_BODY_BYTES then
        pushes.bad_request:add(1)
        return errors.new("body-too-large")
    end
    local problem, ttl, ____, topic = parsePushHeaders(request.headers)
    if problem ~= nil then
        pushes.bad_request:add(1)
        response.status_code = 400
        response.headers.content_type = "text/plain; charset=utf-8"
        return problem
    end
    local wait = context.limiter.take(
        registration.key,
        context.clock()
    )
    if wait > 0 then
        context.log("debug", "Push to an endpoint of <%s> over its rate limit", registration.sub)
        pushes.limited:add(1)
        return ____exports.retryLater(response, wait, "rate-limited")
    end
    local to = registration.sub
    local keptFor = math.max(
        0,
        math.min(
            ttl or context.messageTtl,
            context.messageTtl,
            registration.exp - context.now()
        )
    )
    if context.isAway(to) then
        return keepForLater(
            context,
            registration,
            body,
            keptFor,
            topic,
            response
        )
    end
    local keepable = keptFor > 0 and registration.indexed ~= nil
    if keepable and context.pending.stalled(to) then
        return keepAndSend(
            context,
            token,
            registration,
            body,
            keptFor,
            topic,
            response
        )
    end
    if keepable and context.mailbox.hasKept(registration.user, registration.key) then
        local answer = keepForLater(
            context,
            registration,
            body,
            keptFor,
            topic,
            response
        )
        context.mailbox.flush(to)
        return answer
    end
    if context.pending.countFor(registration.user) >= context.maxInFlight then
        context.log("debug", "Push for <%s> refused: %d already awaiting an answer", to, context.maxInFlight)
        pushes.limited:add(1)
        return ____exports.retryLater(response, 1, "too-many-in-flight")
    end
    local id = context.newId()
    local iq = pushIq(
        context.service,
        to,
        id,
        registration.application,
        registration.instance,
        body
    )
    --- Set once the app server has its answer; with a held copy's id when that was at the window.
    local answered = false
    local copy
    context.pending.send(
        iq,
        registration.user,
        function(settled, waited)
            if settled.answer == "late" then
                answered = true
                local kept, copyId = keepCopy(
                    context,
                    registration,
                    body,
                    keptFor,
                    topic,
                    response
                )
                copy = copyId
                reply(response, kept)
                return
            end
            if settled.answered then
                context.answerTime:sample(waited)
            end
            if not answered then
                answered = true
                local stay = keepable and not settled.answered and settled.reason ~= "unload"
                reply(
                    response,
                    stay and keepForLater(
                        context,
                        registration,
                        body,
                        keptFor,
                        topic,
                        response
                    ) or outcome(
                        context,
                        settled,
                        token,
                        registration,
                        id,
                        response
                    )
                )
                return
            end
            lateOutcome(
                context,
                settled,
                token,
                registration,
                copy,
                #body
            )
        end,
        keepable and "window" or nil
    )
    return ____exports.LATER
end
return ____exports
 end,
["src.matrix"] = function(...)
local ____exports = {}
local ____util_2Epromise = require("util.promise")
local all_settled = ____util_2Epromise.all_settled
local is_promise = ____util_2Epromise.is_promise
local newPromise = ____util_2Epromise.new
local ____endpoint = require("src.endpoint")
local tokenOf = ____endpoint.tokenOf
local ____protocol = require("src.protocol")
local MAX_BODY_BYTES = ____protocol.MAX_BODY_BYTES
local ____relay = require("src.relay")
local LATER = ____relay.LATER
local relayPush = ____relay.relayPush
local RETRY_AFTER_SECONDS = ____relay.RETRY_AFTER_SECONDS
local json = require("util.json")
--- What an app finds at the gateway's URL with GET (UnifiedPush gateway discovery).
____exports.DISCOVERY = "{\"unifiedpush\":{\"gateway\":\"matrix\"}}"
--- Devices one notification may name. A homeserver notifies per user (Synapse names
-- one device per request), so a real notification names a handful at most. Each
-- device of ours costs a token lookup and an IQ to its distributor: 20 bounds that
-- work per request well above anyone's devices (and a 4096-byte body holds only a
-- few more of our endpoints, whose paseto tokens alone are ~200 characters).
____exports.MAX_DEVICES = 20
--- relayPush as the gateway combines it: the outcome, or a util.promise of it when
-- the answer waits for the distributor.
function ____exports.relayPromised(context, token, request, response)
    local answered
    local resolveLater
    local now = relayPush(
        context,
        token,
        request,
        response,
        function(_, later)
            if resolveLater == nil then
                answered = later
            else
                resolveLater(later)
            end
        end
    )
    if now ~= LATER then
        return now
    end
    if answered ~= nil then
        return answered
    end
    return newPromise(function(resolve)
        if answered ~= nil then
            resolve(answered)
        else
            resolveLater = resolve
        end
    end)
end
--- Sets the status and returns a Matrix error body (`errcode`, `error`).
local function matrixError(response, status, errcode, text)
    response.status_code = status
    response.headers.content_type = "application/json"
    return ((("{\"errcode\":\"" .. errcode) .. "\",\"error\":\"") .. text) .. "\"}"
end
--- The answer to GET: the gateway discovery document.
function ____exports.discover(response)
    response.headers.content_type = "application/json"
    return ____exports.DISCOVERY
end
--- The answer to any method but GET and POST.
function ____exports.methodNotAllowed(response)
    response.headers.allow = "GET, POST"
    return matrixError(response, 405, "M_UNRECOGNIZED", "The push gateway accepts GET and POST")
end
--- The token a pushkey names when it is one of our endpoints, else `undefined`.
function ____exports.tokenOfPushkey(pushkey, prefix, urldecode)
    if #pushkey <= #prefix or string.sub(pushkey, 1, #prefix) ~= prefix then
        return nil
    end
    local rest = string.sub(pushkey, #prefix + 1)
    local question = string.find(rest, "?", 1, true)
    if question == nil then
        return tokenOf(
            urldecode(rest),
            nil,
            urldecode
        )
    end
    local path = urldecode(string.sub(rest, 1, question - 1))
    if #path == 0 then
        return nil
    end
    return tokenOf(
        path,
        string.sub(rest, question + 1),
        urldecode
    )
end
--- The decoded value, or `undefined` when `text` is not JSON.
local function decodeJson(text)
    local value = json.decode(text)
    return value
end
--- The pushkeys of a notification, or why it is refused: a body that is not JSON,
-- no `notification.devices` list, no devices, too many, or a device without a
-- string `pushkey` (a homeserver always sends one; such a request is malformed as
-- a whole rather than a pusher to remove, so nothing of it is relayed).
local function pushkeysOf(body)
    local ran, value = pcall(decodeJson, body)
    if not ran or value == nil then
        return nil, "M_NOT_JSON", "The body is not JSON"
    end
    local ____temp_0
    if type(value) == "table" then
        ____temp_0 = value.notification
    else
        ____temp_0 = nil
    end
    local notification = ____temp_0
    local ____temp_1
    if type(notification) == "table" then
        ____temp_1 = notification.devices
    else
        ____temp_1 = nil
    end
    local devices = ____temp_1
    if type(devices) ~= "table" or #devices == 0 then
        return nil, "M_BAD_JSON", "The notification names no devices"
    end
    local list = devices
    if #list > ____exports.MAX_DEVICES then
        return nil, "M_BAD_JSON", ("A notification may name at most " .. tostring(____exports.MAX_DEVICES)) .. " devices"
    end
    local pushkeys = {}
    for ____, device in ipairs(list) do
        local ____temp_2
        if type(device) == "table" then
            ____temp_2 = device.pushkey
        else
            ____temp_2 = nil
        end
        local pushkey = ____temp_2
        if type(pushkey) ~= "string" then
            return nil, "M_BAD_JSON", "Every device needs a pushkey string"
        end
        pushkeys[#pushkeys + 1] = pushkey
    end
    return pushkeys, nil, nil
end
--- The HTTP status relayPush settled on: as Prosody's HTTP server would read it.
local function statusOf(outcome, response)
    local kind = type(outcome)
    if kind == "number" then
        return outcome
    end
    if kind == "string" then
        return response.status_code
    end
    return outcome.code or 500
end
local function count(tally, pushkey, status, response)
    if status >= 200 and status < 300 then
        tally.delivered = tally.delivered + 1
    elseif status == 404 then
        local ____tally_rejected_3 = tally.rejected
        ____tally_rejected_3[#____tally_rejected_3 + 1] = pushkey
    else
        tally.temporary = tally.temporary + 1
        local wait = tonumber(response.headers.retry_after)
        if wait ~= nil and (tally.retryAfter == nil or wait < tally.retryAfter) then
            tally.retryAfter = wait
        end
    end
end
--- 200 with the rejected pushkeys, unless nothing was delivered and something may
-- work later: then 503 with Retry-After, so the homeserver tries again (the
-- Matrix Push Gateway API has no way to say "retry this device only").
local function answer(context, tally, response)
    context.log(
        "debug",
        "Matrix notification: %d delivered, %d rejected, %d to retry",
        tally.delivered,
        #tally.rejected,
        tally.temporary
    )
    if tally.delivered == 0 and tally.temporary > 0 then
        response.headers.retry_after = tostring(tally.retryAfter or RETRY_AFTER_SECONDS)
        return matrixError(response, 503, "M_UNKNOWN", "No device can be reached now; try again later")
    end
    response.status_code = 200
    response.headers.content_type = "application/json"
    return ("{\"rejected\":" .. json.encode_array(tally.rejected)) .. "}"
end
--- Relayed with no RFC 8030 headers: the homeserver sends none, so each device gets the defaults.
local NO_HEADERS = {}
--- Handles one POST of a notification: the answer now, or a promise of it.
function ____exports.notify(context, request, response)
    local body = request.body
    if #body > MAX_BODY_BYTES then
        return matrixError(
            response,
            413,
            "M_TOO_LARGE",
            ("The notification is larger than " .. tostring(MAX_BODY_BYTES)) .. " bytes"
        )
    end
    local pushkeys, errcode, text = pushkeysOf(body)
    if pushkeys == nil then
        return matrixError(response, 400, errcode, text)
    end
    local prefix = context.endpointPrefix()
    local message = {body = body, headers = NO_HEADERS}
    local tally = {rejected = {}, delivered = 0, temporary = 0, retryAfter = nil}
    local seen = {}
    local waiting = {}
    local waitingFor = {}
    local waitingResponses = {}
    for ____, pushkey in ipairs(pushkeys) do
        if seen[pushkey] == nil then
            seen[pushkey] = true
            local token = ____exports.tokenOfPushkey(pushkey, prefix, context.decode)
            if token == nil then
                context.log("debug", "Matrix notification for a pushkey that is not our endpoint")
                local ____tally_rejected_4 = tally.rejected
                ____tally_rejected_4[#____tally_rejected_4 + 1] = pushkey
            else
                local deviceResponse = {headers = {}, status_code = 200}
                local outcome = context.relay(token, message, deviceResponse)
                if is_promise(outcome) then
                    waiting[#waiting + 1] = outcome
                    waitingFor[#waitingFor + 1] = pushkey
                    waitingResponses[#waitingResponses + 1] = deviceResponse
                else
                    count(
                        tally,
                        pushkey,
                        statusOf(outcome, deviceResponse),
                        deviceResponse
                    )
                end
            end
        end
    end
    if #waiting == 0 then
        return answer(context, tally, response)
    end
    return all_settled(waiting):next(function(results)
        do
            local i = 0
            while i < #results do
                local result = results[i + 1]
                if result.status == "fulfilled" then
                    count(
                        tally,
                        waitingFor[i + 1],
                        statusOf(result.value, waitingResponses[i + 1]),
                        waitingResponses[i + 1]
                    )
                else
                    context.log(
                        "warn",
                        "Relaying a Matrix notification failed: %s",
                        tostring(result.reason)
                    )
                    tally.temporary = tally.temporary + 1
                end
                i = i + 1
            end
        end
        return answer(context, tally, response)
    end)
end
return ____exports
 end,
["src.sessions"] = function(...)
local ____exports = {}
local ____util_2Ejid = require("util.jid")
local join = ____util_2Ejid.join
local split = ____util_2Ejid.split
--- The host whose sessions are our distributors: a component's parent domain, else our own.
function ____exports.sessionHostOf(host, isComponent)
    local parent = string.match(host, "^[^.]+%.(.+)$")
    return isComponent and parent ~= nil and parent or host
end
function ____exports.watchSessions(module, sessionHost, handlers)
    --- The event source of the session host we watch (a reactivated host gets a new one).
    local watched
    local function watch()
        local ____opt_0 = prosody.hosts[sessionHost]
        local events = ____opt_0 and ____opt_0.events
        if events == nil or events == watched then
            return
        end
        watched = events
        local sessions = module:context(sessionHost)
        sessions:hook(
            "resource-unbind",
            function(event)
                local fullJid = event.session.full_jid
                if fullJid ~= nil then
                    handlers.offline(fullJid)
                end
            end
        )
        sessions:hook(
            "resource-bind",
            function(event)
                local fullJid = event.session.full_jid
                if fullJid ~= nil then
                    module:add_timer(
                        0,
                        function() return handlers.online(fullJid) end
                    )
                end
            end
        )
        sessions:hook(
            "smacks-hibernation-end",
            function(event)
                local fullJid = event.resumed.full_jid
                module:add_timer(
                    0,
                    function() return handlers.online(fullJid) end
                )
            end
        )
    end
    watch()
    module:hook_global(
        "host-activated",
        function(host)
            if host == sessionHost then
                watch()
            end
        end
    )
    module:hook_global(
        "user-deleted",
        function(event)
            if event.host ~= sessionHost then
                return
            end
            local removed, err = handlers.deleted(join(event.username, event.host))
            if removed == nil then
                module:log("warn", "Could not remove the push endpoints of a deleted account: %s", err)
            elseif removed > 0 then
                module:log("info", "Removed %d push endpoints of a deleted account", removed)
            end
        end
    )
    module:hook(
        "presence/host",
        function(event)
            local from = event.stanza.attr.from
            if event.stanza.attr.type ~= nil or from == nil then
                return nil
            end
            if select(
                3,
                split(from)
            ) ~= nil then
                handlers.online(from)
            end
            return nil
        end,
        1
    )
end
--- True for a full JID of one of our own hosts that cannot take a push now: it
-- has no session, or its session hibernates (stream management: the connection
-- dropped and a push would only wait in its queue).
function ____exports.isAway(fullJid)
    local session = prosody.full_sessions[fullJid]
    if session ~= nil then
        return session.hibernating ~= nil
    end
    local ____, host = split(fullJid)
    local ____temp_2
    if host == nil then
        ____temp_2 = nil
    else
        ____temp_2 = prosody.hosts[host]
    end
    local ours = ____temp_2
    return ours ~= nil and ours.type == "local"
end
return ____exports
 end,
["src.http"] = function(...)
local ____exports = {}
local ____util_2Ehttp = require("util.http")
local urldecode = ____util_2Ehttp.urldecode
local urlencode = ____util_2Ehttp.urlencode
local ____util_2Eid = require("util.id")
local medium = ____util_2Eid.medium
local ____util_2Etime = require("util.time")
local monotonic = ____util_2Etime.monotonic
local ____cors = require("src.cors")
local corsFor = ____cors.corsFor
local corsSettings = ____cors.corsSettings
local letModHttpRemoveApp = ____cors.letModHttpRemoveApp
local ____endpoint = require("src.endpoint")
local endpointPath = ____endpoint.endpointPath
local tokenOf = ____endpoint.tokenOf
local ____errors = require("src.errors")
local errors = ____errors.errors
local ____httpanswer = require("src.httpanswer")
local sendLater = ____httpanswer.sendLater
local ____ratelimit = require("src.ratelimit")
local rateLimiter = ____ratelimit.rateLimiter
local ____matrix = require("src.matrix")
local discover = ____matrix.discover
local matrixMethodNotAllowed = ____matrix.methodNotAllowed
local notify = ____matrix.notify
local relayPromised = ____matrix.relayPromised
local ____relay = require("src.relay")
local relayPush = ____relay.relayPush
local retryLater = ____relay.retryLater
local ____sessions = require("src.sessions")
local isAway = ____sessions.isAway
--- The Matrix push gateway's path (Matrix Push Gateway API).
____exports.MATRIX_PATH = "/_matrix/push/v1/notify"
--- Where the push message resources (the Locations of 201s) live under the base.
____exports.MESSAGE_PREFIX = "message/"
--- Characters of a kept message's reference that name its endpoint (a tokenKey).
local KEY_LENGTH = 32
--- Longer message ids are not ours (a bucket number, then util.id's 16 characters or SQL storage's 36-character UUID).
local MAX_MESSAGE_ID_LENGTH = 64
--- The URLs of this instance, computed on first use and again after a configuration reload.
function ____exports.pushUrls(module)
    local pushBase
    local messageBase
    module:hook_global(
        "config-reloaded",
        function()
            pushBase = nil
            messageBase = nil
        end
    )
    local function base()
        if pushBase == nil then
            pushBase = module:http_url("push", "/push")
        end
        return pushBase
    end
    local function locationFor(tail)
        if messageBase == nil then
            messageBase = (base() .. "/") .. ____exports.MESSAGE_PREFIX
        end
        return messageBase .. tail
    end
    return {
        base = base,
        endpointFor = function(token) return (base() .. "/") .. endpointPath(token, urlencode) end,
        locationFor = locationFor,
        keptLocationFor = function(key, id) return locationFor(endpointPath(key .. id, urlencode)) end
    }
end
--- Answers a DELETE on a push message resource: 204 when a kept message was removed.
function ____exports.cancelMessage(context, reference, response)
    local key = string.sub(reference, 1, KEY_LENGTH)
    local id = string.sub(reference, KEY_LENGTH + 1)
    if (string.find(key, "^[0-9a-f]+$")) == nil or #key ~= KEY_LENGTH or #id > MAX_MESSAGE_ID_LENGTH or (string.find(id, "^[%w_.-]+$")) == nil then
        return errors.new("unknown-message")
    end
    local wait = context.limiter.take(
        key,
        context.clock()
    )
    if wait > 0 then
        return retryLater(response, wait, "rate-limited")
    end
    local found, err = context.mailbox.cancel(key, id)
    if found == nil then
        context.log("warn", "Could not cancel a kept push message: %s", err)
        return errors.new("internal")
    end
    if not found then
        return errors.new("unknown-message")
    end
    context.log("debug", "A kept push message was cancelled")
    return 204
end
local DISCOVERY = "{\"unifiedpush\":{\"version\":1}}"
local PUSH_CORS = {enabled = true, headers = {
    ["Content-Encoding"] = true,
    TTL = true,
    Urgency = true,
    Topic = true,
    ["Content-Type"] = true,
    Authorization = true
}}
--- The push endpoints' routes: discovery, POST, DELETE of kept messages, preflight, 405.
local function pushRoutes(module, relay)
    local cors = corsFor(
        corsSettings(module, "push"),
        {
            "GET",
            "POST",
            "DELETE",
            "PUT",
            "PATCH",
            "OPTIONS"
        },
        PUSH_CORS
    )
    --- Lets a browser (a request with an Origin) read the answer, as CORS allows.
    local function fromBrowser(event)
        local origin = event.request.headers.origin
        if origin ~= nil then
            if cors ~= nil then
                cors.allow(origin, event.response.headers)
            end
        end
    end
    local function methodNotAllowed(event)
        fromBrowser(event)
        event.response.headers.allow = "GET, POST, DELETE, OPTIONS"
        return errors.new("method-not-allowed")
    end
    return {
        ["GET /*"] = function(event)
            fromBrowser(event)
            event.response.headers.content_type = "application/json"
            return DISCOVERY
        end,
        ["POST /*"] = function(event, path)
            fromBrowser(event)
            return relayPush(
                relay,
                tokenOf(path, event.request.url.query, urldecode),
                event.request,
                event.response,
                sendLater
            )
        end,
        ["DELETE /*"] = function(event, path)
            fromBrowser(event)
            if string.sub(path, 1, #____exports.MESSAGE_PREFIX) ~= ____exports.MESSAGE_PREFIX then
                return methodNotAllowed(event)
            end
            local reference = string.sub(path, #____exports.MESSAGE_PREFIX + 1)
            return ____exports.cancelMessage(
                relay,
                tokenOf(reference, event.request.url.query, urldecode),
                event.response
            )
        end,
        ["OPTIONS /*"] = function(event)
            if cors == nil then
                return methodNotAllowed(event)
            end
            cors.allow(event.request.headers.origin, event.response.headers)
            return ""
        end,
        ["PUT /*"] = methodNotAllowed,
        ["PATCH /*"] = methodNotAllowed
    }
end
--- The Matrix push gateway's routes; mod_http answers its CORS, echoing the Origin.
local function gatewayRoutes(gateway)
    local function varyOnOrigin(event)
        if event.request.headers.origin ~= nil then
            event.response.headers.vary = "Origin"
        end
    end
    local function refuse(event)
        varyOnOrigin(event)
        return matrixMethodNotAllowed(event.response)
    end
    return {
        GET = function(event)
            varyOnOrigin(event)
            return discover(event.response)
        end,
        POST = function(event)
            varyOnOrigin(event)
            return notify(gateway, event.request, event.response)
        end,
        PUT = refuse,
        DELETE = refuse,
        PATCH = refuse
    }
end
--- Serves the endpoints and, with `gateway`, the Matrix push gateway on the same
-- HTTP host, where Matrix apps look for it (README "Matrix push gateway").
function ____exports.serveHttp(module, urls, parts, gateway)
    local ____parts_2 = parts
    local config = ____parts_2.config
    local metrics = ____parts_2.metrics
    local relay = {
        service = module.host,
        endpoints = parts.endpoints,
        pending = parts.pending,
        mailbox = parts.mailbox,
        messageTtl = config.messageTtl,
        limiter = rateLimiter(config.rateLimit, config.rateBurst, config.endpointCache),
        maxInFlight = config.maxInFlight,
        isAway = isAway,
        locationFor = urls.locationFor,
        keptLocationFor = urls.keptLocationFor,
        newId = medium,
        now = os.time,
        clock = monotonic,
        log = parts.log,
        pushes = metrics.pushes,
        answerTime = metrics.answerTime
    }
    module:provides(
        "http",
        {
            name = "push",
            default_path = "/push",
            cors = {enabled = false},
            route = pushRoutes(module, relay)
        }
    )
    letModHttpRemoveApp(module.host, "push")
    if not gateway then
        return
    end
    module:provides(
        "http",
        {
            name = "matrix_push_gateway",
            default_path = ____exports.MATRIX_PATH,
            route = gatewayRoutes({
                endpointPrefix = function() return urls.base() .. "/" end,
                relay = function(token, request, response) return relayPromised(relay, token, request, response) end,
                decode = urldecode,
                log = relay.log
            })
        }
    )
end
return ____exports
 end,
["src.backends.revocation"] = function(...)
local ____exports = {}
local ____backend = require("src.backends.backend")
local tokenKey = ____backend.tokenKey
--- Where the list is kept, beside the paseto key.
local RECORD = "_revoked"
--- Loads the list; undefined and why when the store cannot be read.
function ____exports.loadRevocations(store)
    local saved, err = store:get(RECORD)
    if err ~= nil then
        return nil, tostring(err)
    end
    local revoked = saved or ({})
    local count = 0
    for ____ in pairs(revoked) do
        count = count + 1
    end
    local list = {
        isRevoked = function(token)
            return count > 0 and revoked[tokenKey(token)] ~= nil
        end,
        revoke = function(key, exp, now)
            for old, expiry in pairs(revoked) do
                if expiry < now then
                    revoked[old] = nil
                    count = count - 1
                end
            end
            if revoked[key] == nil then
                count = count + 1
            end
            revoked[key] = exp
            local ok, setErr = store:set(RECORD, revoked)
            if ok ~= true then
                return false, tostring(setErr)
            end
            return true
        end
    }
    return list, nil
end
return ____exports
 end,
["src.backends.stateless"] = function(...)
local ____exports = {}
local ____backend = require("src.backends.backend")
local asClaims = ____backend.asClaims
local tokenKey = ____backend.tokenKey
local userClaims = ____backend.userClaims
function ____exports.statelessBackend(codec, revocations)
    return {
        name = codec.name,
        wellFormed = codec.wellFormed,
        issue = function(registration) return codec.encode(userClaims(registration)) end,
        open = function(token)
            if not codec.wellFormed(token) then
                return nil, "invalid"
            end
            local claims = asClaims(codec.decode(token))
            if claims == nil then
                return nil, "invalid"
            end
            if revocations.isRevoked(token) then
                return nil, "revoked"
            end
            return claims, nil
        end,
        revoke = function(token, exp, now)
            return revocations.revoke(
                tokenKey(token),
                exp,
                now
            )
        end,
        revokeKey = revocations.revoke,
        dropRecord = function()
        end
    }
end
return ____exports
 end,
["src.backends.jwt"] = function(...)
local ____lualib = require("lualib_bundle")
local __TS__ObjectAssign = ____lualib.__TS__ObjectAssign
local ____exports = {}
local ____util_2Eid = require("util.id")
local short = ____util_2Eid.short
local ____util_2Ejwt = require("util.jwt")
local sign = ____util_2Ejwt.sign
local verify = ____util_2Ejwt.verify
local ____backend = require("src.backends.backend")
local isCanonicalBase64url = ____backend.isCanonicalBase64url
--- Characters of an HS256 signature (32 bytes) in base64url.
local SIGNATURE_CHARACTERS = 43
function ____exports.jwtCodec(secret)
    local header = (string.match(
        sign(secret, {}),
        "^[^.]*%."
    )) or ""
    return {
        name = "jwt",
        encode = function(claims)
            return sign(
                secret,
                __TS__ObjectAssign(
                    {},
                    claims,
                    {jti = short()}
                )
            ), nil
        end,
        decode = function(token)
            local ran, ok, payload = pcall(verify, secret, token)
            local ____temp_0
            if ran and ok then
                ____temp_0 = payload
            else
                ____temp_0 = nil
            end
            return ____temp_0
        end,
        wellFormed = function(token)
            if header == "" or (string.find(token, header, 1, true)) ~= 1 then
                return false
            end
            local dot = string.find(token, ".", #header + 1, true)
            return dot ~= nil and #token - dot == SIGNATURE_CHARACTERS and isCanonicalBase64url(token, #header + 1, dot - 1) and isCanonicalBase64url(token, dot + 1, #token)
        end
    }
end
return ____exports
 end,
["src.backends.paseto"] = function(...)
local ____exports = {}
local ____backend = require("src.backends.backend")
local isCanonicalBase64url = ____backend.isCanonicalBase64url
--- What every v3.local token starts with. Neither we nor the reference module
-- issue a footer, so a token is this and one canonical base64url part: nothing
-- after it (util.paseto decrypts "T." and "T.x" as T).
local PREFIX_PATTERN = "^v3%.local%."
local PREFIX_LENGTH = 9
--- Where the key lives: the same place the reference module keeps it.
local KEY_RECORD = "_private"
--- Loads the persisted key, creating it on first use; undefined and why on failure.
function ____exports.loadOrCreateKey(v3, store)
    local record, err = store:get(KEY_RECORD)
    if err ~= nil then
        return nil, tostring(err)
    end
    local existing = record and record.paseto_v3_local_key
    if existing ~= nil then
        return existing, nil
    end
    local key = v3.new_key()
    local ok, setErr = store:set(KEY_RECORD, {paseto_v3_local_key = key})
    if ok ~= true then
        return nil, tostring(setErr)
    end
    return key, nil
end
function ____exports.pasetoCodec(v3, key)
    local encrypt, decrypt = v3.init(key)
    return {
        name = "paseto",
        encode = function(claims)
            local token, err = encrypt(claims)
            if token == nil then
                return nil, tostring(err)
            end
            return token, nil
        end,
        decode = function(token)
            local ran, payload = pcall(decrypt, token)
            return ran and payload or nil
        end,
        wellFormed = function(token)
            return (string.find(token, PREFIX_PATTERN)) ~= nil and isCanonicalBase64url(token, PREFIX_LENGTH + 1, #token)
        end
    }
end
return ____exports
 end,
["src.backends.storage"] = function(...)
local ____exports = {}
local ____util_2Eid = require("util.id")
local medium = ____util_2Eid.medium
local ____backend = require("src.backends.backend")
local asRegistration = ____backend.asRegistration
local isCanonicalBase64url = ____backend.isCanonicalBase64url
local tokenKey = ____backend.tokenKey
local TOKEN_LENGTH = 24
--- The reference module's tokens.
local REFERENCE_TOKEN_LENGTH = 32
--- What is reported instead of the store's message when it fails on a record of
-- the reference module: that record's key is the token, and drivers name the key
-- in their messages (the file, the row), which would put the token in the log.
local LEGACY_FAILURE = "the store failed on a record of the reference module (its message is withheld: it may name the record's key, which is the token)"
local function wellFormed(token)
    local length = #token
    return (length == TOKEN_LENGTH or length == REFERENCE_TOKEN_LENGTH) and isCanonicalBase64url(token, 1, length)
end
function ____exports.storageBackend(store)
    --- The record of a token: ours by key, else one the reference module stored; or the store's error.
    local function lookup(token)
        local record, err = store:get(tokenKey(token))
        if err ~= nil or record ~= nil or #token ~= REFERENCE_TOKEN_LENGTH then
            return record, err
        end
        local legacy, legacyErr = store:get(token)
        local ____legacy_1 = legacy
        local ____temp_0
        if legacyErr == nil then
            ____temp_0 = nil
        else
            ____temp_0 = LEGACY_FAILURE
        end
        return ____legacy_1, ____temp_0
    end
    local function deleteRecord(key)
        local ok, err = store:set(key, nil)
        if ok ~= true then
            return false, tostring(err)
        end
        return true
    end
    return {
        name = "storage",
        wellFormed = wellFormed,
        issue = function(registration)
            local token = medium()
            store:setSoon(
                tokenKey(token),
                registration
            )
            return token, nil
        end,
        open = function(token)
            if not wellFormed(token) then
                return nil, "invalid"
            end
            local record, err = lookup(token)
            if err ~= nil then
                return nil, "failed", tostring(err)
            end
            local claims = asRegistration(record)
            if claims == nil then
                return nil, "invalid"
            end
            return claims, nil
        end,
        revoke = function(token)
            if #token == REFERENCE_TOKEN_LENGTH then
                local ok = store:set(token, nil)
                if ok ~= true then
                    return false, LEGACY_FAILURE
                end
            end
            return deleteRecord(tokenKey(token))
        end,
        revokeKey = deleteRecord,
        dropRecord = function(key)
            store:set(key, nil)
        end
    }
end
return ____exports
 end,
["src.backends.index"] = function(...)
local ____exports = {}
local ____jwt = require("src.backends.jwt")
local jwtCodec = ____jwt.jwtCodec
local ____paseto = require("src.backends.paseto")
local loadOrCreateKey = ____paseto.loadOrCreateKey
local pasetoCodec = ____paseto.pasetoCodec
local ____revocation = require("src.backends.revocation")
local loadRevocations = ____revocation.loadRevocations
local ____stateless = require("src.backends.stateless")
local statelessBackend = ____stateless.statelessBackend
local ____storage = require("src.backends.storage")
local storageBackend = ____storage.storageBackend
--- util.paseto with v3.local (Prosody 13), or undefined where it is missing (0.12).
local function pasetoLibrary()
    local found, library = pcall(require, "util.paseto")
    if not found then
        return nil
    end
    local paseto = library
    local ____temp_0
    if paseto.v3_local == nil then
        ____temp_0 = nil
    else
        ____temp_0 = paseto
    end
    return ____temp_0
end
--- Backends this Prosody supports, the default first.
function ____exports.supportedBackends()
    return pasetoLibrary() ~= nil and ({"paseto", "storage", "jwt"}) or ({"storage", "jwt"})
end
local function stateless(codec, store)
    local revocations, reason = loadRevocations(store)
    if revocations == nil then
        return nil, "cannot load the revocation list: " .. reason
    end
    return statelessBackend(codec, revocations), nil
end
--- The backend named in the configuration, ready to use; undefined and why when
-- it cannot start (its key or revocation list cannot be read or stored).
-- `store` is the backend's store; `journaled`, the same seen through the
-- journal, where the storage backend writes what a registration issues.
function ____exports.createBackend(name, store, journaled, secret)
    if name == "jwt" then
        if secret == nil then
            return nil, "unified_push_secret is not set"
        end
        return stateless(
            jwtCodec(secret),
            store
        )
    end
    if name == "paseto" then
        local ____opt_1 = pasetoLibrary()
        local v3 = ____opt_1 and ____opt_1.v3_local
        if v3 == nil then
            return nil, "util.paseto with v3.local is not available"
        end
        local key, reason = loadOrCreateKey(v3, store)
        if key == nil then
            return nil, "cannot load or store the paseto key: " .. reason
        end
        return stateless(
            pasetoCodec(v3, key),
            store
        )
    end
    return storageBackend(journaled), nil
end
return ____exports
 end,
["src.registeriq"] = function(...)
local ____exports = {}
local refusal
local ____util_2Estanza = require("util.stanza")
local error_reply = ____util_2Estanza.error_reply
local ____acl = require("src.acl")
local isPermitted = ____acl.isPermitted
local ____protocol = require("src.protocol")
local hashAttributeProblem = ____protocol.hashAttributeProblem
local NS = ____protocol.NS
local registeredReply = ____protocol.registeredReply
function refusal(context, request, outcome, detail)
    local ____context_4 = context
    local registrations = ____context_4.registrations
    local log = ____context_4.log
    local from = request.attr.from
    if outcome == "too-long" then
        log("debug", "Registration from <%s> refused: its endpoint would be too long", from)
        registrations.limited:add(1)
        return error_reply(
            request,
            "cancel",
            "not-acceptable",
            ("The endpoint for this address would be longer than " .. tostring(____exports.MAX_ENDPOINT_BYTES)) .. " bytes, the most UnifiedPush allows (a shorter JID fits)"
        )
    end
    if outcome == "limit" then
        log("debug", "Registration from <%s> refused: %s already", from, detail)
        registrations.limited:add(1)
        return error_reply(
            request,
            "cancel",
            "policy-violation",
            ("Too many registrations (at most " .. tostring(context.config.maxRegistrations)) .. " apps per user)"
        )
    end
    log("warn", "Could not issue a push endpoint with the %s backend: %s", context.backendName, detail)
    registrations.failed:add(1)
    return error_reply(request, "wait", "internal-server-error", "Could not create the endpoint")
end
--- The longest endpoint URL we hand out, in bytes: UnifiedPush's Android
-- specification caps endpoints at 1000 bytes, and app servers refuse longer ones.
____exports.MAX_ENDPOINT_BYTES = 1000
--- Answers one `<register/>` IQ: `reply` gets the stanza to send back, at once
-- for a refusal, after this turn of the event loop for an endpoint (once the
-- user index has stored it), and whether that was a renewal.
function ____exports.answerRegistration(context, request, reply)
    local registrations = context.registrations
    local from = request.attr.from
    if from == nil or not isPermitted(context.config.acl, from) then
        context.log("debug", "Registration from <%s> refused by unified_push_acl", from)
        registrations.forbidden:add(1)
        return reply(error_reply(request, "auth", "forbidden", "Not permitted to register on this service"))
    end
    local register = request.tags[1]
    local application = register and register.attr.application
    local instance = register and register.attr.instance
    local problem = hashAttributeProblem("application", application) or hashAttributeProblem("instance", instance)
    if problem ~= nil or application == nil or instance == nil then
        registrations.bad_request:add(1)
        return reply(error_reply(request, "modify", "bad-request", problem))
    end
    local now = context.now()
    local exp = now + context.config.registrationTtl
    local longest = ____exports.MAX_ENDPOINT_BYTES - #context.endpointFor("") - 1
    context.endpoints.register(
        from,
        application,
        instance,
        exp,
        now,
        longest,
        function(token, outcome, detail)
            if token == nil then
                return reply(refusal(context, request, outcome, detail))
            end
            context.log("debug", outcome and "Renewed a push endpoint for <%s>" or "Registered a push endpoint for <%s>", from)
            if outcome then
                registrations.renewed:add(1)
            else
                registrations.new:add(1)
            end
            reply(
                registeredReply(
                    request,
                    context.endpointFor(token),
                    exp
                ),
                outcome
            )
        end
    )
end
--- Answers `<register/>` IQs sent to the module's host: a set with the endpoint (then,
-- for a renewal, `registered` with the sender, whom it may have moved the endpoint
-- to), a get with bad-request.
function ____exports.hookRegistration(module, context, registered)
    module:hook(
        ("iq-set/host/" .. NS) .. ":register",
        function(event)
            local ____event_5 = event
            local origin = ____event_5.origin
            local request = ____event_5.stanza
            ____exports.answerRegistration(
                context,
                request,
                function(answer, renewed)
                    origin.send(answer)
                    local from = request.attr.from
                    if renewed == true and from ~= nil then
                        registered(from)
                    end
                end
            )
            return true
        end
    )
    module:hook(
        ("iq-get/host/" .. NS) .. ":register",
        function(event)
            event.origin.send(error_reply(event.stanza, "modify", "bad-request", "register must be sent with type=\"set\""))
            return true
        end
    )
end
return ____exports
 end,
["src.upkeep"] = function(...)
local ____exports = {}
local ____slices = require("src.slices")
local runWalk = ____slices.runWalk
local sliceOf = ____slices.sliceOf
function ____exports.scheduleUpkeep(module, endpoints, mailbox, sliceUsers)
    local budget = sliceOf(sliceUsers)
    local function run(walk)
        runWalk(
            walk,
            function(delay, callback)
                module:add_timer(delay, callback)
            end,
            budget.pause
        )
    end
    local counting = mailbox.count(budget)
    if counting ~= nil then
        run(counting)
    end
    local purging = false
    --- The purge's second part: kept messages, after registrations.
    local function purgeMessages(registrations)
        local sweep
        sweep = mailbox.sweep(
            budget,
            function(err)
                purging = false
                if err ~= nil then
                    module:log("warn", "Could not purge expired push messages: %s", err)
                end
                local messages = sweep and sweep.total() or 0
                if registrations + messages > 0 then
                    module:log("debug", "Purged %d expired push registrations, %d messages", registrations, messages)
                end
            end
        )
        if sweep == nil then
            purging = false
        else
            run(sweep)
        end
    end
    module:hourly(
        "Purge expired push registrations and messages",
        function()
            if purging then
                return
            end
            purging = true
            local sweep
            sweep = endpoints.sweep(
                os.time(),
                budget,
                function(err)
                    if err ~= nil then
                        module:log("warn", "Could not purge expired push registrations: %s", err)
                    end
                    purgeMessages(sweep and sweep.total() or 0)
                end
            )
            if sweep == nil then
                purgeMessages(0)
            else
                run(sweep)
            end
        end
    )
end
return ____exports
 end,
["src.shell"] = function(...)
local ____exports = {}
local ____util_2Edatetime = require("util.datetime")
local datetime = ____util_2Edatetime.datetime
local ____util_2Ejid = require("util.jid")
local bare = ____util_2Ejid.bare
local prep = ____util_2Ejid.prep
local split = ____util_2Ejid.split
--- Characters of an application hash shown: enough to tell a user's apps apart.
____exports.APPLICATION_PREFIX = 8
--- The bare JID of a user's account, from what an admin typed; or why it is not one.
local function accountOf(jid)
    if type(jid) ~= "string" then
        return nil, "give the user's JID as a string"
    end
    local prepped = prep(jid)
    local ____temp_0
    if prepped == nil then
        ____temp_0 = nil
    else
        ____temp_0 = bare(prepped)
    end
    local user = ____temp_0
    if user == nil or (split(user)) == nil then
        return nil, "not a user's JID: " .. jid
    end
    return user, nil
end
local function plural(n, one, many)
    return (tostring(n) .. " ") .. (n == 1 and one or many)
end
--- `unified_push:list(jid)`: one line per registration of the user.
function ____exports.listCommand(context, ____print, jid)
    local user, problem = accountOf(jid)
    if user == nil then
        return false, problem
    end
    local entries, err = context.endpoints.entries(user)
    if err ~= nil then
        return false, "could not read the registrations: " .. err
    end
    local kept = context.keptBy(user)
    local now = context.now()
    local rows = {}
    local width = #"JID"
    for key, entry in pairs(entries or ({})) do
        local target = entry.j or "(in the token)"
        width = math.max(width, #target)
        local ____string_sub_result_5 = string.sub(entry.a, 1, ____exports.APPLICATION_PREFIX)
        local ____temp_6 = datetime(entry.e) .. (entry.e < now and " (expired)" or "")
        local ____opt_1 = kept and kept[key]
        rows[#rows + 1] = {app = ____string_sub_result_5, jid = target, expires = ____temp_6, kept = ____opt_1 and ____opt_1.n or 0}
    end
    table.sort(
        rows,
        function(a, b)
            local ____temp_7
            if a.app == b.app then
                ____temp_7 = a.jid < b.jid
            else
                ____temp_7 = a.app < b.app
            end
            return ____temp_7
        end
    )
    if #rows > 0 then
        local format = ((("%-" .. tostring(____exports.APPLICATION_PREFIX)) .. "s  %-") .. tostring(width)) .. "s  %-30s  %s"
        ____print(string.format(
            format,
            "App",
            "JID",
            "Expires",
            "Stored messages"
        ))
        for ____, row in ipairs(rows) do
            ____print(string.format(
                format,
                row.app,
                row.jid,
                row.expires,
                row.kept
            ))
        end
    end
    return true, (plural(#rows, "push registration", "push registrations") .. " of ") .. user
end
--- `unified_push:revoke(jid [, application])`: revokes the user's registrations
-- (those whose application hash starts with `application`, as `list` shows it).
function ____exports.revokeCommand(context, jid, application)
    local user, problem = accountOf(jid)
    if user == nil then
        return false, problem
    end
    if application ~= nil and (type(application) ~= "string" or application == "") then
        return false, "give the application as the start of its hash, as list() shows it"
    end
    local prefix = application
    local revoked, err = context.endpoints.revokeApps(
        user,
        prefix,
        context.now()
    )
    if revoked == nil then
        return false, "could not revoke: " .. err
    end
    local which = prefix == nil and "" or " for applications starting with " .. prefix
    return true, ((("Revoked " .. plural(revoked, "push registration", "push registrations")) .. " of ") .. user) .. which
end
local function formatValue(value)
    return string.format("%.6g", value)
end
--- `unified_push:stats()`: the counts of every host the module is loaded on.
function ____exports.statsCommand(hosts, ____print)
    for ____, ____value in ipairs(hosts) do
        local host = ____value[1]
        local read = ____value[2]
        local readings = read()
        if readings == nil then
            return false, "Prosody keeps no statistics: set statistics = \"internal\" in the global section and restart"
        end
        ____print(host)
        for ____, ____value in ipairs(readings) do
            local name = ____value.name
            local values = ____value.values
            local parts = {}
            for ____, ____value in ipairs(values) do
                local label = ____value[1]
                local value = ____value[2]
                parts[#parts + 1] = (label .. " ") .. formatValue(value)
            end
            ____print((("  " .. name) .. ": ") .. table.concat(parts, ", "))
        end
    end
    return true, plural(#hosts, "host", "hosts")
end
local ITEM = "shell-command"
local SECTION = "unified_push"
local SECTION_DESC = "Push registrations and counts of mod_unified_push"
--- Runs a command on every instance serving the users' host (a VirtualHost and a
-- component for its users may both run the module), saying which answered what
-- when there are several.
local function onEach(services, ____print, run)
    local only = services[1]
    if #services == 1 and only ~= nil then
        return run(only[2], ____print)
    end
    local ok = true
    local messages = {}
    for ____, ____value in ipairs(services) do
        local host = ____value[1]
        local context = ____value[2]
        ____print(host .. ":")
        local done, message = run(
            context,
            function(line) return ____print("  " .. line) end
        )
        if ok then
            ok = done
        end
        messages[#messages + 1] = (host .. ": ") .. message
    end
    return ok, table.concat(messages, "; ")
end
--- Adds the commands as Prosody 13's admin shell takes them, one `shell-command`
-- item each: `list` and `revoke` on the users' host (a component's parent domain,
-- since the shell picks the host by the JID typed), `stats` for the whole server.
-- 0.12's shell takes none: the items go unused and the debug log says so.
-- Returns what to do on unload.
function ____exports.offerShellCommands(module, usersHost, context)
    local instances = module:shared(("/*/" .. module.name) .. "/instances")
    --- Which instance offers `list` and `revoke` to each users' host: the shell keeps
    -- one handler per host and warns "already registered" at a second.
    local offerers = module:shared(("/*/" .. module.name) .. "/shell_offerers")
    --- Every instance serving our users, by host name: what `list` and `revoke` run on.
    local function servingUsers()
        local services = {}
        for host, instance in pairs(instances) do
            if instance.usersHost == usersHost then
                services[#services + 1] = {host, instance.context}
            end
        end
        table.sort(
            services,
            function(a, b) return a[1] < b[1] end
        )
        return services
    end
    local users = module:context(usersHost)
    local server = module:context("*")
    rawset(server, "items", {})
    local list = {
        section = SECTION,
        section_desc = SECTION_DESC,
        name = "list",
        desc = "List a user's push registrations: application, JID, expiry, stored messages",
        args = {{name = "jid", type = "string"}},
        host_selector = "jid",
        handler = function(self, jid)
            return onEach(
                servingUsers(),
                self.session.print,
                function(each, ____print) return ____exports.listCommand(each, ____print, jid) end
            )
        end
    }
    local revoke = {
        section = SECTION,
        section_desc = SECTION_DESC,
        name = "revoke",
        desc = "Revoke a user's push registrations (or one application's): their endpoints answer 404",
        args = {{name = "jid", type = "string"}, {name = "application", type = "string"}},
        host_selector = "jid",
        handler = function(self, jid, application)
            return onEach(
                servingUsers(),
                self.session.print,
                function(each) return ____exports.revokeCommand(each, jid, application) end
            )
        end
    }
    local stats = {
        section = SECTION,
        section_desc = SECTION_DESC,
        name = "stats",
        desc = "Show the push counts of every host",
        args = {},
        handler = function(self)
            local hosts = {}
            for host, instance in pairs(instances) do
                hosts[#hosts + 1] = {host, instance.context.read}
            end
            table.sort(
                hosts,
                function(a, b) return a[1] < b[1] end
            )
            return ____exports.statsCommand(hosts, self.session.print)
        end
    }
    local function offer()
        if offerers[usersHost] == nil and prosody.hosts[usersHost] ~= nil then
            offerers[usersHost] = module.host
            users:add_item(ITEM, list)
            users:add_item(ITEM, revoke)
        end
        server:remove_item(ITEM, stats)
        server:add_item(ITEM, stats)
    end
    instances[module.host] = {usersHost = usersHost, context = context, offer = offer}
    local function whenStarted()
        offer()
        if prosody.events.get_handlers("item-added/" .. ITEM) == nil then
            module:log("debug", "No admin shell here takes commands from modules (shell-command items): unified_push:list(), revoke() and stats() are not available")
        end
    end
    if prosody.start_time == nil then
        module:hook_global("server-started", whenStarted)
    else
        whenStarted()
    end
    return function()
        instances[module.host] = nil
        if offerers[usersHost] == module.host then
            offerers[usersHost] = nil
            users:remove_item(ITEM, list)
            users:remove_item(ITEM, revoke)
        end
        for ____, other in pairs(instances) do
            other.offer()
        end
        server:remove_item(ITEM, stats)
    end
end
return ____exports
 end,
["src.userlist"] = function(...)
local ____exports = {}
local ____util_2Ehashes = require("util.hashes")
local sha1 = ____util_2Ehashes.sha1
--- Shards per list: about 25 users each at 100,000 users. A turn that changes a
-- shard copies it and the journal compares the copy with what it held, so a walk
-- filling a list (500 users a slice, in as many shards) costs about 500 shards'
-- size a slice: with 256 shards of 400 users that was ticks of up to 240 ms.
local SHARDS = 4096
--- Lists kept in `lists` (seen through the journal, so that a change costs no write of its own).
function ____exports.userLists(lists)
    --- Shards read so far, by key: what the list holds, never a table the store has.
    local shards = {}
    local function shardOf(name, user)
        local digest = sha1(user)
        return (name .. ".") .. tostring((string.byte(digest, 1) * 256 + string.byte(digest, 2)) % SHARDS)
    end
    --- A shard, read once; undefined when the store fails.
    local function shard(key)
        local held = shards[key]
        if held ~= nil then
            return held
        end
        local saved, err = lists:get(key)
        if err ~= nil then
            return nil
        end
        local read = {}
        if saved ~= nil then
            for user in pairs(saved) do
                read[user] = true
            end
        end
        shards[key] = read
        return read
    end
    --- Shards changed with this turn's writes, not yet stored: changed again in
    -- place (a walk filling a list adds hundreds of users to a shard in a turn).
    local unstored = {}
    --- Puts `user` in list `name` or out of it, now or with this turn's writes; false when the list failed.
    local function mark(name, user, present, now)
        local key = shardOf(name, user)
        local held = shard(key)
        if held == nil then
            return false
        end
        if held[user] ~= nil == present then
            return true
        end
        local inTurn = not now and unstored[key] ~= nil
        local changed = held
        if not inTurn then
            changed = {}
            for member in pairs(held) do
                changed[member] = true
            end
            shards[key] = changed
        end
        if present then
            changed[user] = true
        else
            changed[user] = nil
        end
        local ____temp_0
        if (next(changed)) == nil then
            ____temp_0 = nil
        else
            ____temp_0 = changed
        end
        local value = ____temp_0
        if now then
            local ok = lists:set(key, value)
            if ok ~= true then
                shards[key] = nil
            end
            return ok == true
        end
        if inTurn then
            lists:setSoon(key, value)
            return true
        end
        unstored[key] = true
        local function stored(ok)
            unstored[key] = nil
            if not ok then
                shards[key] = nil
            end
        end
        lists:setSoon(key, value, stored, held)
        return true
    end
    return {listed = function(name, store)
        local marker = name .. ".complete"
        local complete
        --- Times the list was found wanting: a walk that began before cannot complete it.
        local spoiled = 0
        local function isComplete()
            if complete == nil then
                local found, err = lists:get(marker)
                if err ~= nil then
                    return false
                end
                complete = found ~= nil
            end
            return complete
        end
        local function keep(user, value, now)
            if user == nil or mark(name, user, value ~= nil, now) then
                return
            end
            spoiled = spoiled + 1
            complete = false
            lists:setSoon(marker, nil)
        end
        local seen = store
        local wrapped = {
            get = function(self, user)
                local value, err = seen:get(user)
                if err == nil then
                    local ____user_2 = user
                    local ____temp_1
                    if value == false then
                        ____temp_1 = nil
                    else
                        ____temp_1 = value
                    end
                    keep(____user_2, ____temp_1, false)
                end
                return value, err
            end,
            set = function(self, user, value)
                local ok, err = seen:set(user, value)
                if ok ~= true then
                    return ok, err
                end
                keep(user, value, value ~= nil)
                return true
            end
        }
        local setSoon = seen.setSoon
        if setSoon ~= nil then
            wrapped.setSoon = function(____, user, value, stored, inStore)
                setSoon(
                    store,
                    user,
                    value,
                    stored,
                    inStore
                )
                keep(user, value, false)
            end
        end
        local listUsers = seen.users
        if listUsers ~= nil then
            wrapped.users = function() return coroutine.wrap(function()
                if isComplete() then
                    for n = 0, SHARDS - 1 do
                        local key = (name .. ".") .. tostring(n)
                        local held = shard(key)
                        if held == nil then
                            error(((("cannot read the list of " .. name) .. " users (") .. key) .. ")")
                        end
                        local users = {}
                        for user in pairs(held) do
                            users[#users + 1] = user
                        end
                        for ____, user in ipairs(users) do
                            coroutine.yield(user)
                        end
                    end
                    return
                end
                local since = spoiled
                local whole = true
                for user in listUsers(store) do
                    if not mark(name, user, true, false) then
                        whole = false
                    end
                    coroutine.yield(user)
                end
                if whole and since == spoiled then
                    complete = true
                    local done = {}
                    done.complete = true
                    lists:setSoon(marker, done)
                end
            end) end
        end
        return wrapped
    end}
end
return ____exports
 end,
["src.version"] = function(...)
local ____exports = {}
____exports.VERSION = "0.1.0"
return ____exports
 end,
["src.mod_unified_push"] = function(...)
local ____exports = {}
local ____core_2Estatsmanager = require("core.statsmanager")
local get_metric_registry = ____core_2Estatsmanager.get_metric_registry
local ____util_2Eid = require("util.id")
local medium = ____util_2Eid.medium
local ____backends = require("src.backends.index")
local createBackend = ____backends.createBackend
local supportedBackends = ____backends.supportedBackends
local ____config = require("src.config")
local checkBeforeHooks = ____config.checkBeforeHooks
local ____endpoints = require("src.endpoints")
local newEndpoints = ____endpoints.endpoints
local ____http = require("src.http")
local MATRIX_PATH = ____http.MATRIX_PATH
local pushUrls = ____http.pushUrls
local serveHttp = ____http.serveHttp
local ____mailbox = require("src.mailbox")
local newMailbox = ____mailbox.mailbox
local ____metrics = require("src.metrics")
local declareMetrics = ____metrics.declareMetrics
local ____journal = require("src.journal")
local FOLD_SLICE = ____journal.FOLD_SLICE
local newJournal = ____journal.journal
local ____pending = require("src.pending")
local hookAnswers = ____pending.hookAnswers
local pendingPushesOf = ____pending.pendingPushesOf
local ____protocol = require("src.protocol")
local NS = ____protocol.NS
local ____registeriq = require("src.registeriq")
local hookRegistration = ____registeriq.hookRegistration
local ____slices = require("src.slices")
local sliceOf = ____slices.sliceOf
local ____upkeep = require("src.upkeep")
local scheduleUpkeep = ____upkeep.scheduleUpkeep
local ____sessions = require("src.sessions")
local sessionHostOf = ____sessions.sessionHostOf
local watchSessions = ____sessions.watchSessions
local ____shell = require("src.shell")
local offerShellCommands = ____shell.offerShellCommands
local ____startup = require("src.startup")
local announceWhenReady = ____startup.announceWhenReady
local ____userindex = require("src.userindex")
local userIndex = ____userindex.userIndex
local ____userlist = require("src.userlist")
local userLists = ____userlist.userLists
local ____version = require("src.version")
local VERSION = ____version.VERSION
local ____checkBeforeHooks_result_0 = checkBeforeHooks(
    module,
    MATRIX_PATH,
    supportedBackends()
)
local config = ____checkBeforeHooks_result_0.config
local claimed = ____checkBeforeHooks_result_0.claimed
local isComponent = ____checkBeforeHooks_result_0.isComponent
local stop = ____checkBeforeHooks_result_0.stop
--- Where the distributors' sessions live: our host, or a component's parent domain.
local sessionHost = sessionHostOf(module.host, isComponent)
module:depends("http")
module:depends("disco")
module:add_feature(NS)
local log = module._log
local metrics = declareMetrics(
    module,
    function() return get_metric_registry() ~= nil end
)
local function keyvalStore(name)
    local store, problem = module:open_store(name)
    return store or stop({(("cannot open the " .. name) .. " store: ") .. problem})
end
local function archiveStore(name)
    local store, problem = module:open_store(name, "archive")
    return store or stop({(("cannot open the " .. name) .. " store: ") .. problem})
end
local writes = newJournal({
    store = keyvalStore("unified_push_journal"),
    addTimer = function(delay, callback) return module:add_timer(delay, callback) end,
    foldDelay = config.journalDelay,
    maxUnfolded = config.endpointCache,
    budget = sliceOf(FOLD_SLICE),
    log = log
})
local backendStore = keyvalStore("unified_push")
local tokenStore = writes.open("tokens", backendStore)
local lists = userLists(writes.open(
    "lists",
    keyvalStore("unified_push_lists")
))
local indexStore = writes.open(
    "users",
    keyvalStore("unified_push_users")
)
local unread = writes.replay()
if unread ~= nil then
    stop({"cannot read the unified_push_journal store: " .. unread})
end
local made, why = createBackend(config.backend, backendStore, tokenStore, config.secret)
local backend = made or stop({(("unified_push_backend \"" .. config.backend) .. "\" cannot start: ") .. why})
local index = userIndex({
    store = lists.listed("users", indexStore),
    cacheSize = config.endpointCache
})
local endpoints = newEndpoints({
    backend = backend,
    index = index,
    maxPerUser = config.maxRegistrations,
    cacheSize = config.endpointCache,
    revocations = metrics.revocations
})
local pending = pendingPushesOf(module, config.iqTimeout, config.answerWindow)
local mailbox = newMailbox({
    messages = archiveStore("unified_push_messages"),
    kept = lists.listed(
        "kept",
        keyvalStore("unified_push_kept")
    ),
    maxMessages = config.maxStoredMessages,
    maxBytes = config.maxStoredBytes,
    maxPerEndpoint = math.min(config.maxStoredPerEndpoint, config.maxStoredMessages),
    service = module.host,
    pending = pending,
    endpoints = endpoints,
    newId = medium,
    now = os.time,
    later = function(callback) return module:add_timer(0, callback) end,
    log = log,
    removed = metrics.removed
})
local levels = {inFlight = pending.total, stored = mailbox.totals}
module:hook_global(
    "stats-update",
    function() return metrics.update(levels) end
)
scheduleUpkeep(module, endpoints, mailbox, config.purgeSlice)
local urls = pushUrls(module)
hookRegistration(module, {
    config = config,
    endpoints = endpoints,
    backendName = backend.name,
    endpointFor = urls.endpointFor,
    now = os.time,
    log = log,
    registrations = metrics.registrations
}, mailbox.flush)
hookAnswers(module, pending)
watchSessions(
    module,
    sessionHost,
    {
        offline = pending.dropTarget,
        online = mailbox.flush,
        deleted = function(user) return endpoints.removeUser(
            user,
            os.time()
        ) end
    }
)
local withdrawShellCommands = offerShellCommands(
    module,
    sessionHost,
    {
        endpoints = endpoints,
        keptBy = mailbox.keptBy,
        read = function() return metrics.read(levels) end,
        now = os.time
    }
)
module.unload = function()
    pending.dropAll()
    writes.close()
    withdrawShellCommands()
    claimed.release()
end
local relayed = {
    config = config,
    endpoints = endpoints,
    pending = pending,
    mailbox = mailbox,
    metrics = metrics,
    log = log
}
serveHttp(module, urls, relayed, claimed.servesGateway)
claimed.publish()
announceWhenReady(
    module,
    VERSION,
    backend.name,
    claimed,
    urls.base,
    MATRIX_PATH
)
return ____exports
 end,
}
local ____entry = require("src.mod_unified_push", ...)
return ____entry
