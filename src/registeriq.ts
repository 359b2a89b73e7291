// The registration IQ (docs/design.md, "Protocol"): validate, check the
// ACL, and hand out the app's endpoint: the same one on a renewal, else a new
// one within the per-user cap.
import { error_reply, Stanza } from "util.stanza";
import { isPermitted } from "./acl";
import { Config } from "./config";
import { Logger } from "./log";
import { Counts, RegistrationOutcome } from "./metrics";
import { hashAttributeProblem, NS, registeredReply } from "./protocol";
import { Endpoints, RegisterRefusal } from "./endpoints";

/**
 * The longest endpoint URL we hand out, in bytes: UnifiedPush's Android
 * specification caps endpoints at 1000 bytes, and app servers refuse longer ones.
 */
export const MAX_ENDPOINT_BYTES = 1000;

export interface RegistrationContext {
  readonly config: Config;
  readonly endpoints: Endpoints;
  /** The backend's name, for the log. */
  readonly backendName: string;
  /** The endpoint URL for a token. */
  readonly endpointFor: (this: void, token: string) => string;
  readonly now: (this: void) => number;
  readonly log: Logger;
  /** Counted once per request, by outcome. */
  readonly registrations: Counts<RegistrationOutcome>;
}

/**
 * Answers one `<register/>` IQ: `reply` gets the stanza to send back, at once
 * for a refusal, after this turn of the event loop for an endpoint (once the
 * user index has stored it), and whether that was a renewal.
 */
export function answerRegistration(
  context: RegistrationContext,
  request: Stanza,
  reply: (this: void, answer: Stanza, renewed?: boolean) => void,
): void {
  const registrations = context.registrations;
  const from = request.attr.from;
  if (from === undefined || !isPermitted(context.config.acl, from)) {
    context.log("debug", "Registration from <%s> refused by unified_push_acl", from);
    registrations.forbidden.add(1);
    return reply(
      error_reply(request, "auth", "forbidden", "Not permitted to register on this service"),
    );
  }

  const register = request.tags[0];
  const application = register?.attr.application;
  const instance = register?.attr.instance;
  const problem =
    hashAttributeProblem("application", application) ?? hashAttributeProblem("instance", instance);
  if (problem !== undefined || application === undefined || instance === undefined) {
    registrations.bad_request.add(1);
    return reply(error_reply(request, "modify", "bad-request", problem));
  }

  const now = context.now();
  const exp = now + context.config.registrationTtl;
  // Our tokens need no escaping, and one of more than the few characters that go
  // in the path adds a "?" (endpoint.ts).
  const longest = MAX_ENDPOINT_BYTES - context.endpointFor("").length - 1;
  context.endpoints.register(
    from,
    application,
    instance,
    exp,
    now,
    longest,
    (token, outcome, detail) => {
      if (token === undefined)
        return reply(refusal(context, request, outcome as RegisterRefusal, detail));
      context.log(
        "debug",
        outcome ? "Renewed a push endpoint for <%s>" : "Registered a push endpoint for <%s>",
        from,
      );
      if (outcome) registrations.renewed.add(1);
      else registrations.new.add(1);
      reply(registeredReply(request, context.endpointFor(token), exp), outcome);
    },
  );
}

/** The error a refused registration is answered with. */
function refusal(
  context: RegistrationContext,
  request: Stanza,
  outcome: RegisterRefusal,
  detail: string | undefined,
): Stanza {
  const { registrations, log } = context;
  const from = request.attr.from;
  if (outcome === "too-long") {
    log("debug", "Registration from <%s> refused: its endpoint would be too long", from);
    registrations.limited.add(1);
    return error_reply(
      request,
      "cancel",
      "not-acceptable",
      `The endpoint for this address would be longer than ${MAX_ENDPOINT_BYTES} bytes, the most UnifiedPush allows (a shorter JID fits)`,
    );
  }
  if (outcome === "limit") {
    log("debug", "Registration from <%s> refused: %s already", from, detail);
    registrations.limited.add(1);
    return error_reply(
      request,
      "cancel",
      "policy-violation",
      `Too many registrations (at most ${context.config.maxRegistrations} apps per user)`,
    );
  }
  log(
    "warn",
    "Could not issue a push endpoint with the %s backend: %s",
    context.backendName,
    detail,
  );
  registrations.failed.add(1);
  return error_reply(request, "wait", "internal-server-error", "Could not create the endpoint");
}

/**
 * Answers `<register/>` IQs sent to the module's host: a set with the endpoint (then,
 * for a renewal, `registered` with the sender, whom it may have moved the endpoint
 * to), a get with bad-request.
 */
export function hookRegistration(
  module: Prosody.Module,
  context: RegistrationContext,
  registered: (this: void, fullJid: string) => void,
): void {
  module.hook(`iq-set/host/${NS}:register`, (event) => {
    const { origin, stanza: request } = event;
    answerRegistration(context, request, (answer, renewed) => {
      origin.send(answer);
      const from = request.attr.from;
      // A new endpoint has kept nothing; a renewed one may now go to this JID.
      if (renewed === true && from !== undefined) registered(from);
    });
    return true;
  });
  module.hook(`iq-get/host/${NS}:register`, (event) => {
    event.origin.send(
      error_reply(event.stanza, "modify", "bad-request", 'register must be sent with type="set"'),
    );
    return true;
  });
}
