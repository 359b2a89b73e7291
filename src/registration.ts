// The registration IQ (SPEC §2): validate, check the ACL, issue an endpoint.
import { error_reply, Stanza } from "util.stanza";
import { isPermitted } from "./acl";
import { Backend } from "./backends/backend";
import { Config } from "./config";
import { hashAttributeProblem, registeredReply } from "./protocol";
import { Logger } from "./log";

export interface RegistrationContext {
  readonly config: Config;
  readonly backend: Backend;
  /** The endpoint URL for a token. */
  readonly endpointFor: (this: void, token: string) => string;
  readonly now: (this: void) => number;
  readonly log: Logger;
}

/** Answers one `<register/>` IQ: the stanza to send back to the client. */
export function answerRegistration(context: RegistrationContext, request: Stanza): Stanza {
  const from = request.attr.from;
  if (!isPermitted(context.config.acl, from)) {
    context.log("debug", "Registration from <%s> refused by unified_push_acl", from);
    return error_reply(request, "auth", "forbidden", "Not permitted to register on this service");
  }

  const register = request.tags[0];
  const application = register?.attr.application;
  const instance = register?.attr.instance;
  const problem =
    hashAttributeProblem("application", application) ?? hashAttributeProblem("instance", instance);
  if (problem !== undefined) return error_reply(request, "modify", "bad-request", problem);

  const exp = context.now() + context.config.registrationTtl;
  const [token, reason] = context.backend.issue({
    sub: from as string,
    application: application as string,
    instance: instance as string,
    exp,
  });
  if (token === undefined) {
    context.log(
      "warn",
      "Could not issue a push endpoint with the %s backend: %s",
      context.backend.name,
      reason,
    );
    return error_reply(request, "wait", "internal-server-error", "Could not create the endpoint");
  }
  context.log("debug", "Registered a push endpoint for <%s>", from);
  return registeredReply(request, context.endpointFor(token), exp);
}
