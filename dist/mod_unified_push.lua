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
local function __TS__ArrayMap(self, callbackfn, thisArg)
    local result = {}
    for i = 1, #self do
        result[i] = callbackfn(thisArg, self[i], i - 1, self)
    end
    return result
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

return {
  __TS__ArrayMap = __TS__ArrayMap,
  __TS__ArrayIncludes = __TS__ArrayIncludes,
  __TS__ObjectAssign = __TS__ObjectAssign
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
local function fail(name, expectation, value)
    local shown = type(value) == "string" and ("\"" .. value) .. "\"" or tostring(value)
    return error(((((("option " .. name) .. " must be ") .. expectation) .. " (got ") .. shown) .. ")", 0)
end
function ____exports.integerOption(read, name, fallback, min, max)
    local ____read_result_0 = read(name)
    if ____read_result_0 == nil then
        ____read_result_0 = fallback
    end
    local value = ____read_result_0
    if type(value) ~= "number" or math.floor(value) ~= value then
        return fail(
            name,
            (("a whole number from " .. tostring(min)) .. " to ") .. tostring(max),
            value
        )
    end
    local n = value
    if n < min or n > max then
        return fail(
            name,
            (("a whole number from " .. tostring(min)) .. " to ") .. tostring(max),
            value
        )
    end
    return n
end
function ____exports.stringOption(read, name)
    local value = read(name)
    if value ~= nil and type(value) ~= "string" then
        return fail(name, "a string", value)
    end
    return value
end
function ____exports.choiceOption(read, name, choices, fallback)
    local ____read_result_1 = read(name)
    if ____read_result_1 == nil then
        ____read_result_1 = fallback
    end
    local value = ____read_result_1
    for ____, choice in ipairs(choices) do
        if value == choice then
            return choice
        end
    end
    return fail(
        name,
        "one of " .. table.concat(choices, ", "),
        value
    )
end
--- A list of strings; a single string is accepted as a list of one.
function ____exports.listOption(read, name, fallback)
    local ____read_result_2 = read(name)
    if ____read_result_2 == nil then
        ____read_result_2 = fallback
    end
    local value = ____read_result_2
    if type(value) == "string" then
        return {value}
    end
    if type(value) ~= "table" then
        return fail(name, "a list of strings", value)
    end
    local list = {}
    for ____, item in ipairs(value) do
        if type(item) ~= "string" then
            return fail(name, "a list of strings", item)
        end
        list[#list + 1] = item
    end
    return list
end
return ____exports
 end,
["src.config"] = function(...)
local ____lualib = require("lualib_bundle")
local __TS__ArrayMap = ____lualib.__TS__ArrayMap
local __TS__ArrayIncludes = ____lualib.__TS__ArrayIncludes
local ____exports = {}
local ____util_2Ejid = require("util.jid")
local prep = ____util_2Ejid.prep
local ____options = require("src.options")
local choiceOption = ____options.choiceOption
local integerOption = ____options.integerOption
local listOption = ____options.listOption
local stringOption = ____options.stringOption
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
function ____exports.readConfig(read, context)
    local acl = __TS__ArrayMap(
        listOption(
            read,
            "unified_push_acl",
            {defaultAclEntry(context)}
        ),
        function(____, entry)
            local normalised = prep(entry)
            if normalised == nil or (string.find(normalised, "[%s/]")) ~= nil then
                return error(("option unified_push_acl must list domains or bare JIDs (got \"" .. entry) .. "\")", 0)
            end
            return normalised
        end
    )
    local requested = read("unified_push_backend")
    if __TS__ArrayIncludes(ALL_BACKENDS, requested) and not __TS__ArrayIncludes(context.backends, requested) then
        return error(
            (("option unified_push_backend: \"" .. requested) .. "\" is not supported by this Prosody ") .. ("(supported here: " .. table.concat(context.backends, ", ")) .. ")",
            0
        )
    end
    local backend = choiceOption(read, "unified_push_backend", context.backends, context.backends[1] or "storage")
    local secret = stringOption(read, "unified_push_secret")
    if backend == "jwt" then
        if secret == nil then
            return error("option unified_push_secret is required by unified_push_backend = \"jwt\" " .. "(generate one with: openssl rand -base64 32)", 0)
        end
        if #secret < MIN_SECRET_LENGTH then
            return error(
                (("option unified_push_secret must be at least " .. tostring(MIN_SECRET_LENGTH)) .. " characters ") .. "(generate one with: openssl rand -base64 32)",
                0
            )
        end
    end
    return {
        acl = acl,
        backend = backend,
        secret = secret,
        registrationTtl = integerOption(
            read,
            "unified_push_registration_ttl",
            DAY,
            1,
            365 * DAY
        ),
        iqTimeout = integerOption(
            read,
            "unified_push_iq_timeout",
            20,
            1,
            300
        )
    }
end
return ____exports
 end,
["src.errors"] = function(...)
local ____exports = {}
local ____util_2Eerror = require("util.error")
local init = ____util_2Eerror.init
____exports.errors = init("unified_push", {
    ["unknown-endpoint"] = {type = "cancel", condition = "item-not-found", code = 404, text = "No such push endpoint (unknown, revoked or expired)"},
    ["empty-body"] = {type = "modify", condition = "bad-request", code = 400, text = "Empty push message"},
    ["body-too-large"] = {type = "modify", condition = "policy-violation", code = 413, text = "Push message larger than 4096 bytes"},
    ["method-not-allowed"] = {type = "cancel", condition = "not-allowed", code = 405, text = "Push endpoints accept GET and POST"},
    ["distributor-unavailable"] = {type = "wait", condition = "recipient-unavailable", code = 503, text = "The distributor is not reachable right now; try again later"},
    internal = {type = "wait", condition = "internal-server-error", code = 500, text = "Internal error in the push service"}
})
return ____exports
 end,
["src.log"] = function(...)
local ____exports = {}
return ____exports
 end,
["src.backends.backend"] = function(...)
local ____exports = {}
--- Checks a decoded token payload or stored record has the registration's shape.
function ____exports.asRegistration(value)
    if type(value) ~= "table" then
        return nil
    end
    local r = value
    if type(r.sub) ~= "string" or type(r.application) ~= "string" or type(r.instance) ~= "string" or type(r.exp) ~= "number" then
        return nil
    end
    return r
end
return ____exports
 end,
["src.backends.jwt"] = function(...)
local ____exports = {}
local ____util_2Ejwt = require("util.jwt")
local sign = ____util_2Ejwt.sign
local verify = ____util_2Ejwt.verify
local ____backend = require("src.backends.backend")
local asRegistration = ____backend.asRegistration
function ____exports.jwtBackend(secret)
    return {
        name = "jwt",
        issue = function(registration)
            return sign(secret, registration), nil
        end,
        resolve = function(token, now)
            local ran, ok, payload = pcall(verify, secret, token)
            if not ran or not ok then
                return nil, "invalid"
            end
            local registration = asRegistration(payload)
            if registration == nil then
                return nil, "invalid"
            end
            if registration.exp < now then
                return nil, "expired"
            end
            return registration, nil
        end
    }
end
return ____exports
 end,
["src.backends.paseto"] = function(...)
local ____lualib = require("lualib_bundle")
local __TS__ObjectAssign = ____lualib.__TS__ObjectAssign
local ____exports = {}
local ____backend = require("src.backends.backend")
local asRegistration = ____backend.asRegistration
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
    local ok, setErr = store:set(
        KEY_RECORD,
        __TS__ObjectAssign({}, record, {paseto_v3_local_key = key})
    )
    if not ok then
        return nil, tostring(setErr)
    end
    return key, nil
end
function ____exports.pasetoBackend(v3, key)
    local encrypt, decrypt = v3.init(key)
    return {
        name = "paseto",
        issue = function(registration)
            local token, err = encrypt(registration)
            if token == nil then
                return nil, tostring(err)
            end
            return token, nil
        end,
        resolve = function(token, now)
            local ran, payload = pcall(decrypt, token)
            if not ran then
                return nil, "invalid"
            end
            local registration = asRegistration(payload)
            if registration == nil then
                return nil, "invalid"
            end
            if registration.exp < now then
                return nil, "expired"
            end
            return registration, nil
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
local RESERVED_PREFIX = "_"
local TOKEN_PATTERN = "^[%w_-]+$"
local MAX_TOKEN_LENGTH = 32
function ____exports.storageBackend(store)
    return {
        name = "storage",
        issue = function(registration)
            local token = medium()
            while string.sub(token, 1, 1) == RESERVED_PREFIX do
                token = medium()
            end
            local ok, err = store:set(token, registration)
            if not ok then
                return nil, tostring(err)
            end
            return token, nil
        end,
        resolve = function(token, now)
            if #token > MAX_TOKEN_LENGTH or string.sub(token, 1, 1) == RESERVED_PREFIX or (string.find(token, TOKEN_PATTERN)) == nil then
                return nil, "invalid"
            end
            local record, err = store:get(token)
            if record == nil then
                return nil, err == nil and "invalid" or "failed"
            end
            local registration = asRegistration(record)
            if registration == nil then
                return nil, "invalid"
            end
            if registration.exp < now then
                return nil, "expired"
            end
            return registration, nil
        end
    }
end
return ____exports
 end,
["src.backends.index"] = function(...)
local ____exports = {}
local ____jwt = require("src.backends.jwt")
local jwtBackend = ____jwt.jwtBackend
local ____paseto = require("src.backends.paseto")
local loadOrCreateKey = ____paseto.loadOrCreateKey
local pasetoBackend = ____paseto.pasetoBackend
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
--- The backend named in the configuration, ready to use; undefined and why when
-- it cannot start (the paseto key could not be read or stored).
function ____exports.createBackend(name, store, secret)
    if name == "jwt" then
        if secret == nil then
            return nil, "unified_push_secret is not set"
        end
        return jwtBackend(secret), nil
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
        return pasetoBackend(v3, key), nil
    end
    return storageBackend(store), nil
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
____exports.NS = "http://gultsch.de/xmpp/drafts/unified-push"
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
return ____exports
 end,
["src.registration"] = function(...)
local ____exports = {}
local ____util_2Estanza = require("util.stanza")
local error_reply = ____util_2Estanza.error_reply
local ____acl = require("src.acl")
local isPermitted = ____acl.isPermitted
local ____protocol = require("src.protocol")
local hashAttributeProblem = ____protocol.hashAttributeProblem
local registeredReply = ____protocol.registeredReply
--- Answers one `<register/>` IQ: the stanza to send back to the client.
function ____exports.answerRegistration(context, request)
    local from = request.attr.from
    if not isPermitted(context.config.acl, from) then
        context.log("debug", "Registration from <%s> refused by unified_push_acl", from)
        return error_reply(request, "auth", "forbidden", "Not permitted to register on this service")
    end
    local register = request.tags[1]
    local application = register and register.attr.application
    local instance = register and register.attr.instance
    local problem = hashAttributeProblem("application", application) or hashAttributeProblem("instance", instance)
    if problem ~= nil then
        return error_reply(request, "modify", "bad-request", problem)
    end
    local exp = context.now() + context.config.registrationTtl
    local token, reason = context.backend.issue({sub = from, application = application, instance = instance, exp = exp})
    if token == nil then
        context.log("warn", "Could not issue a push endpoint with the %s backend: %s", context.backend.name, reason)
        return error_reply(request, "wait", "internal-server-error", "Could not create the endpoint")
    end
    context.log("debug", "Registered a push endpoint for <%s>", from)
    return registeredReply(
        request,
        context.endpointFor(token),
        exp
    )
end
return ____exports
 end,
["src.relay"] = function(...)
local ____exports = {}
local ____util_2Eerror = require("util.error")
local is_error = ____util_2Eerror.is_error
local ____errors = require("src.errors")
local errors = ____errors.errors
local ____protocol = require("src.protocol")
local pushIq = ____protocol.pushIq
--- Largest push message accepted, bytes (SPEC §3).
____exports.MAX_BODY_BYTES = 4096
--- Longer tokens are not ours (paseto and jwt tokens are a few hundred characters).
local MAX_TOKEN_LENGTH = 1024
--- Seconds an app server is asked to wait before retrying a 503.
____exports.RETRY_AFTER_SECONDS = 60
--- Answers the distributor may give that mean the app is gone for good.
local GONE_CONDITIONS = {["item-not-found"] = true, ["feature-not-implemented"] = true}
local function unavailable(response)
    response.headers.retry_after = tostring(____exports.RETRY_AFTER_SECONDS)
    return errors.new("distributor-unavailable")
end
--- Handles one POST to an endpoint: the status now, or a promise of it.
function ____exports.relayPush(context, token, body, response)
    if #token > MAX_TOKEN_LENGTH then
        return errors.new("unknown-endpoint")
    end
    local registration, failure = context.backend.resolve(
        token,
        context.now()
    )
    if registration == nil then
        if failure == "failed" then
            context.log("warn", "Could not look up a push endpoint in storage")
            return errors.new("internal")
        end
        context.log("debug", "Push to an %s endpoint", failure == "expired" and "expired" or "unknown")
        return errors.new("unknown-endpoint")
    end
    if body == nil or #body == 0 then
        return errors.new("empty-body")
    end
    if #body > ____exports.MAX_BODY_BYTES then
        return errors.new("body-too-large")
    end
    local to = registration.sub
    if context.isOffline(to) then
        context.log("debug", "Push for <%s> not relayed: distributor offline", to)
        return unavailable(response)
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
    return context.sendIq(iq, context.iqTimeout):next(
        function(answer)
            if answer.stanza.attr.type ~= "result" then
                return unavailable(response)
            end
            context.log("debug", "Push %s delivered to <%s>", id, to)
            return 201
        end,
        function(err)
            if not is_error(err) then
                context.log("warn", "Push %s could not be sent: %s", id, err)
                return errors.new("internal")
            end
            if GONE_CONDITIONS[err.condition] == true then
                context.log(
                    "debug",
                    "Push %s refused by <%s> (%s): endpoint gone",
                    id,
                    to,
                    err.condition
                )
                return errors.new("unknown-endpoint")
            end
            context.log(
                "debug",
                "Push %s not delivered to <%s>: %s",
                id,
                to,
                err.condition
            )
            return unavailable(response)
        end
    )
end
return ____exports
 end,
["src.mod_unified_push"] = function(...)
local ____exports = {}
local ____util_2Eid = require("util.id")
local medium = ____util_2Eid.medium
local ____util_2Ehttp = require("util.http")
local urlencode = ____util_2Ehttp.urlencode
local ____util_2Ejid = require("util.jid")
local split = ____util_2Ejid.split
local ____util_2Estanza = require("util.stanza")
local error_reply = ____util_2Estanza.error_reply
local ____backends = require("src.backends.index")
local createBackend = ____backends.createBackend
local supportedBackends = ____backends.supportedBackends
local ____config = require("src.config")
local readConfig = ____config.readConfig
local ____errors = require("src.errors")
local errors = ____errors.errors
local ____protocol = require("src.protocol")
local NS = ____protocol.NS
local ____registration = require("src.registration")
local answerRegistration = ____registration.answerRegistration
local ____relay = require("src.relay")
local relayPush = ____relay.relayPush
local config = readConfig(
    function(name) return module:get_option(name) end,
    {
        host = module.host,
        isComponent = module:get_host_type() == "component",
        backends = supportedBackends()
    }
)
module:depends("http")
module:depends("disco")
module:add_feature(NS)
local function log(level, message, ...)
    return module:log(level, message, ...)
end
local store, storeProblem = module:open_store()
if store == nil then
    error("cannot open the unified_push store: " .. storeProblem, 0)
end
local backend, backendProblem = createBackend(config.backend, store, config.secret)
if backend == nil then
    error((("unified_push_backend \"" .. config.backend) .. "\" cannot start: ") .. backendProblem, 0)
end
module:log("info", "Using the %s backend", backend.name)
local function endpointFor(token)
    return (module:http_url("push", "/push") .. "/") .. urlencode(token)
end
module:hook(
    ("iq-set/host/" .. NS) .. ":register",
    function(event)
        event.origin.send(answerRegistration({
            config = config,
            backend = backend,
            endpointFor = endpointFor,
            now = os.time,
            log = log
        }, event.stanza))
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
--- True for a full JID of one of our own hosts that has no session now.
local function isOffline(fullJid)
    local ____, host = split(fullJid)
    local ____temp_0
    if host == nil then
        ____temp_0 = nil
    else
        ____temp_0 = prosody.hosts[host]
    end
    local ours = ____temp_0
    if ours == nil or ours.type ~= "local" then
        return false
    end
    return prosody.full_sessions[fullJid] == nil
end
local relay = {
    service = module.host,
    backend = backend,
    iqTimeout = config.iqTimeout,
    sendIq = function(stanza, timeout) return module:send_iq(stanza, nil, timeout) end,
    isOffline = isOffline,
    newId = medium,
    now = os.time,
    log = log
}
local DISCOVERY = "{\"unifiedpush\":{\"version\":1}}"
local function methodNotAllowed(event)
    event.response.headers.allow = "GET, POST, OPTIONS"
    return errors.new("method-not-allowed")
end
module:provides(
    "http",
    {
        name = "push",
        default_path = "/push",
        cors = {enabled = true, headers = {
            ["Content-Encoding"] = true,
            TTL = true,
            Urgency = true,
            Topic = true,
            ["Content-Type"] = true,
            Authorization = true
        }},
        route = {
            ["GET /*"] = function(event)
                event.response.headers.content_type = "application/json"
                return DISCOVERY
            end,
            ["POST /*"] = function(event, token) return relayPush(relay, token, event.request.body, event.response) end,
            ["PUT /*"] = methodNotAllowed,
            ["DELETE /*"] = methodNotAllowed,
            ["PATCH /*"] = methodNotAllowed
        }
    }
)
return ____exports
 end,
}
local ____entry = require("src.mod_unified_push", ...)
return ____entry
