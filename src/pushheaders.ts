// The RFC 8030 request headers an app server sends with a push message: TTL,
// Urgency and Topic. Malformed values are refused (400) with a short reason.
import { HttpRequestHeaders } from "net.http.server";

export type Urgency = "very-low" | "low" | "normal" | "high";

const URGENCIES: Record<string, Urgency | undefined> = {
  "very-low": "very-low",
  low: "low",
  normal: "normal",
  high: "high",
};

/** Larger TTLs are taken as this (a year); nothing here keeps messages longer. */
const MAX_TTL = 31536000;
const MAX_TOPIC_LENGTH = 32;

/**
 * The push options of a request: no problem, then the TTL (seconds the app server
 * wants the message kept if it cannot be delivered now; undefined when it did not
 * say, as many UnifiedPush senders do not), the urgency and the topic (replaces an
 * earlier undelivered message with the same topic). Or the reason the request is
 * malformed. Values, not a table: this runs on every push.
 */
export function parsePushHeaders(
  headers: HttpRequestHeaders,
): LuaMultiReturn<
  | [problem: undefined, ttl: number | undefined, urgency: Urgency, topic: string | undefined]
  | [problem: string]
> {
  const ttlText = headers.ttl;
  const urgencyText = headers.urgency;
  const topic = headers.topic;
  let ttl: number | undefined;
  if (ttlText !== undefined) {
    if (string.find(ttlText, "^%d+$")[0] === undefined) {
      return $multi("TTL must be a whole number of seconds");
    }
    ttl = math.min(tonumber(ttlText) as number, MAX_TTL);
  }
  let urgency: Urgency = "normal";
  if (urgencyText !== undefined) {
    const known = URGENCIES[string.lower(urgencyText)];
    if (known === undefined) return $multi("Urgency must be very-low, low, normal or high");
    urgency = known;
  }
  if (
    topic !== undefined &&
    (topic.length > MAX_TOPIC_LENGTH || string.find(topic, "^[%w_-]+$")[0] === undefined)
  ) {
    return $multi("Topic must be 1 to 32 characters of the base64url alphabet");
  }
  return $multi(undefined, ttl, urgency, topic);
}
