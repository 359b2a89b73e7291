// The registration IQ (SPEC §2): validate, check the ACL and the per-user cap,
// issue an endpoint.
import { bare } from "util.jid";
import { error_reply, Stanza } from "util.stanza";
import { isPermitted } from "./acl";
import { Backend, tokenKey } from "./backends/backend";
import { Config } from "./config";
import { Logger } from "./log";
import { hashAttributeProblem, registeredReply } from "./protocol";
import { RegistrationIndex } from "./registrations";

export interface RegistrationContext {
  readonly config: Config;
  readonly backend: Backend;
  readonly index: RegistrationIndex;
  /** The endpoint URL for a token. */
  readonly endpointFor: (this: void, token: string) => string;
  readonly now: (this: void) => number;
  readonly log: Logger;
}

/** Answers one `<register/>` IQ: the stanza to send back to the client. */
export function answerRegistration(context: RegistrationContext, request: Stanza): Stanza {
  const from = request.attr.from;
  if (from === undefined || !isPermitted(context.config.acl, from)) {
    context.log("debug", "Registration from <%s> refused by unified_push_acl", from);
    return error_reply(request, "auth", "forbidden", "Not permitted to register on this service");
  }

  const register = request.tags[0];
  const application = register?.attr.application;
  const instance = register?.attr.instance;
  const problem =
    hashAttributeProblem("application", application) ?? hashAttributeProblem("instance", instance);
  if (problem !== undefined || application === undefined || instance === undefined) {
    return error_reply(request, "modify", "bad-request", problem);
  }

  const { backend } = context;
  const now = context.now();
  const exp = now + context.config.registrationTtl;
  let token: string | undefined;
  const [, refusal, detail] = context.index.register(
    bare(from) ?? from,
    application,
    instance,
    exp,
    now,
    () => {
      const [issued, reason] = backend.issue({ sub: from, application, instance, exp });
      if (issued === undefined) return $multi(undefined, reason);
      token = issued;
      return $multi(tokenKey(issued), undefined);
    },
  );
  if (refusal === "limit") {
    context.log("debug", "Registration from <%s> refused: %s already", from, detail);
    return error_reply(
      request,
      "cancel",
      "policy-violation",
      `Too many registrations (at most ${context.config.maxRegistrations} apps per user)`,
    );
  }
  if (refusal !== undefined || token === undefined) {
    context.log(
      "warn",
      "Could not issue a push endpoint with the %s backend: %s",
      backend.name,
      detail,
    );
    return error_reply(request, "wait", "internal-server-error", "Could not create the endpoint");
  }
  context.log("debug", "Registered a push endpoint for <%s>", from);
  return registeredReply(request, context.endpointFor(token), exp);
}
