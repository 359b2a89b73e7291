// The UnifiedPush namespace for the JavaScript side (npm start's demo distributor,
// the interop suite, the bench). The Lua specs take it from spec/helpers/unified_push.lua,
// the module from src/protocol.ts.
export const NS = "http://gultsch.de/xmpp/drafts/unified-push";
