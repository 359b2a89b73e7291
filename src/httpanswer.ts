// Sends an answer decided after the route handler returned (it returned
// `true`), the way Prosody's HTTP server sends one a handler returns: a number
// is the status, with mod_http's error page from 400 on; a util.error carries
// its code (500 when it has none) and gets the error page; a string is the body.
import { fire_event, HttpResponse } from "net.http.server";
import { ErrorObject } from "util.error";

export function sendLater(
  this: void,
  response: HttpResponse,
  outcome: number | string | ErrorObject,
): void {
  let body: string | undefined;
  if (type(outcome) === "number") {
    const code = outcome as number;
    response.status_code = code;
    if (code >= 400) body = fire_event("http-error", { request: response.request, response, code });
  } else if (type(outcome) === "string") {
    body = outcome as string;
  } else {
    const failure = outcome as ErrorObject;
    const code = failure.code ?? 500;
    response.status_code = code;
    body = fire_event("http-error", { request: response.request, response, code, error: failure });
  }
  response.send(body);
}
