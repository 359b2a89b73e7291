// A minimal raw-TCP XMPP client for the bench's distributors: stream, SASL
// PLAIN, bind, session, presence; answers every <iq type="set"> with an empty
// result at once and counts it. No TLS, no XML library: Prosody escapes `<` and
// `>` in text and attribute values, so top-level elements can be cut at tag
// boundaries by a small scanner.
import net from "node:net";
import { NS as NS_UP } from "../scripts/lib/unified-push.mjs";

// Generous: logins come 20 at a time, and a busy two-core machine can be slow to answer.
const CONNECT_TIMEOUT_MS = 60_000;
const REQUEST_TIMEOUT_MS = 30_000;

/** Splits a byte stream into top-level stanzas (children of <stream:stream>). */
export class StanzaScanner {
  constructor() {
    this.buf = "";
    this.open = false; // inside <stream:stream>
  }

  /** Feeds text; returns the complete top-level elements it finishes. */
  feed(text) {
    const out = [];
    let buf = this.buf + text;
    let pos = 0; // everything before pos is consumed
    for (;;) {
      const lt = buf.indexOf("<", pos);
      if (lt < 0) {
        pos = buf.length;
        break;
      }
      if (buf.startsWith("<?", lt) || buf.startsWith("<!", lt)) {
        const end = buf.indexOf(">", lt);
        if (end < 0) {
          pos = lt;
          break;
        }
        pos = end + 1;
        continue;
      }
      if (buf.startsWith("</stream:stream", lt)) {
        this.open = false;
        out.push("</stream:stream>");
        pos = buf.length;
        break;
      }
      if (buf.startsWith("<stream:stream", lt)) {
        const end = buf.indexOf(">", lt);
        if (end < 0) {
          pos = lt;
          break;
        }
        this.open = true;
        pos = end + 1;
        continue;
      }
      // A top-level element from lt: find where it ends.
      const end = elementEnd(buf, lt);
      if (end < 0) {
        pos = lt;
        break;
      }
      out.push(buf.slice(lt, end));
      pos = end;
    }
    this.buf = buf.slice(pos);
    return out;
  }

  reset() {
    this.buf = "";
    this.open = false;
  }
}

/** End offset of the element starting at `start`, or -1 when incomplete. */
function elementEnd(buf, start) {
  let depth = 0;
  let i = start;
  for (;;) {
    const lt = buf.indexOf("<", i);
    if (lt < 0) return -1;
    const gt = buf.indexOf(">", lt);
    if (gt < 0) return -1;
    if (buf.charCodeAt(lt + 1) === 47 /* / */) depth--;
    else if (buf.charCodeAt(gt - 1) !== 47) depth++;
    i = gt + 1;
    if (depth === 0) return i;
  }
}

/** Value of attribute `name` in the element's start tag (still escaped). */
export function attr(element, name) {
  const tagEnd = element.indexOf(">");
  const head = tagEnd < 0 ? element : element.slice(0, tagEnd);
  const re = new RegExp(`\\s${name}=(['"])([^'"]*)\\1`);
  const m = re.exec(head);
  return m ? m[2] : undefined;
}

export function unescapeXml(text) {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}

const escapeXml = (text) =>
  String(text)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/'/g, "&apos;")
    .replace(/"/g, "&quot;");

/**
 * What a registration answer is: "result" with its endpoint, "error:<condition>"
 * (the defined condition, e.g. error:resource-constraint), or "malformed" (a
 * result without an endpoint).
 */
export function registrationOutcome(answer) {
  if (attr(answer, "type") === "error") {
    const condition = /<error\b[^>]*>\s*<([A-Za-z-]+)/.exec(answer);
    return { kind: `error:${condition ? condition[1] : "unknown"}` };
  }
  const registered = answer.indexOf("<registered");
  const endpoint = registered < 0 ? undefined : attr(answer.slice(registered), "endpoint");
  if (attr(answer, "type") !== "result" || !endpoint) return { kind: "malformed" };
  return { kind: "result", endpoint: unescapeXml(endpoint) };
}

/** One distributor: a logged-in, bound client that acknowledges every push IQ. */
export class Distributor {
  constructor({ port, host, user, password, resource }) {
    Object.assign(this, { port, host, user, password, resource });
    this.scanner = new StanzaScanner();
    this.pushes = 0; // IQ sets answered
    this.pending = new Map(); // id -> { resolve, timer }
    this.nextId = 0;
    this.waiters = [];
    this.closed = false;
    this.failed = new Promise((_, reject) => (this.rejectFailed = reject));
    this.failed.catch(() => {});
  }

  /** Connects and logs in; resolves once initial presence is sent. */
  async connect() {
    const deadline = setTimeout(
      () => this.fail(new Error(`login of ${this.user} timed out`)),
      CONNECT_TIMEOUT_MS,
    );
    try {
      await Promise.race([this.login(), this.failed]);
    } finally {
      clearTimeout(deadline);
    }
    return this;
  }

  async login() {
    this.socket = net.connect({ port: this.port, host: "127.0.0.1" });
    this.socket.setNoDelay(true);
    this.socket.setEncoding("utf8");
    this.socket.on("data", (text) => this.onData(text));
    this.socket.on("error", (err) => this.fail(err));
    this.socket.on("close", () => this.fail(new Error("connection closed")));
    this.openStream();
    let features = await this.next();
    if (!features.includes("<mechanism>PLAIN</mechanism>")) {
      throw new Error(`${this.user}: server offers no SASL PLAIN: ${features}`);
    }
    const creds = Buffer.from(`\0${this.user}\0${this.password}`).toString("base64");
    this.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${creds}</auth>`);
    const outcome = await this.next();
    if (!outcome.startsWith("<success")) throw new Error(`${this.user}: login: ${outcome}`);
    this.scanner.reset();
    this.openStream();
    features = await this.next();
    const bound = await this.request(
      `<iq type='set' id='ID'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>` +
        `<resource>${escapeXml(this.resource)}</resource></bind></iq>`,
    );
    const jid = /<jid>([^<]*)<\/jid>/.exec(bound);
    if (!jid) throw new Error(`${this.user}: bind failed: ${bound}`);
    this.jid = unescapeXml(jid[1]);
    if (features.includes("urn:ietf:params:xml:ns:xmpp-session")) {
      await this.request(
        "<iq type='set' id='ID'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>",
      );
    }
    this.write("<presence/>");
    this.ready = true;
  }

  openStream() {
    this.write(
      `<?xml version='1.0'?><stream:stream xmlns='jabber:client' ` +
        `xmlns:stream='http://etherx.jabber.org/streams' to='${this.host}' version='1.0'>`,
    );
  }

  write(text) {
    if (!this.closed) this.socket.write(text);
  }

  /** The next top-level element (only used before the session is ready). */
  next() {
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Sends an IQ whose id attribute is 'ID'; resolves with the answer element. */
  request(template) {
    const id = `q${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.user}: no answer to IQ ${id}`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.write(template.replace("id='ID'", `id='${id}'`));
    });
  }

  /**
   * Enables stream management with resumption (XEP-0198), so that Prosody keeps
   * the session hibernating when the connection drops (drop()).
   */
  async enableResumption() {
    this.write("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    const enabled = await Promise.race([this.next(), this.failed]);
    if (!enabled.startsWith("<enabled")) {
      throw new Error(`${this.user}: stream management refused: ${enabled}`);
    }
  }

  /** The connection dies without </stream:stream>, as a phone's link does. */
  drop() {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
  }

  /** Pings the server; resolves with the round trip in milliseconds. */
  async ping() {
    const started = performance.now();
    await this.request(
      `<iq type='get' id='ID' to='${this.host}'><ping xmlns='urn:xmpp:ping'/></iq>`,
    );
    return performance.now() - started;
  }

  /** Registers one endpoint; resolves with its URL. */
  async register(application, instance) {
    const answer = await this.request(
      `<iq type='set' id='ID' to='${this.host}'><register xmlns='${NS_UP}' ` +
        `application='${application}' instance='${instance}'/></iq>`,
    );
    const { kind, endpoint } = registrationOutcome(answer);
    if (kind !== "result") throw new Error(`${this.user}: registration refused: ${answer}`);
    return endpoint;
  }

  /**
   * Sends one registration IQ per [application, instance] in a single write, so
   * they leave as close together as the socket allows. Never rejects: each
   * promise resolves with { kind, endpoint, at }, kind "result", "error:<condition>",
   * "malformed", "timeout" (no answer within timeoutMs) or "connection-error";
   * `at` is when the answer (or the failure) came, performance.now().
   */
  registerMany(apps, timeoutMs) {
    if (this.closed) {
      return apps.map(() => Promise.resolve({ kind: "connection-error", at: performance.now() }));
    }
    let text = "";
    const outcomes = apps.map(([application, instance]) => {
      const id = `q${this.nextId++}`;
      text +=
        `<iq type='set' id='${id}' to='${this.host}'><register xmlns='${NS_UP}' ` +
        `application='${application}' instance='${instance}'/></iq>`;
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          this.pending.delete(id);
          resolve({ kind: "timeout", at: performance.now() });
        }, timeoutMs);
        this.pending.set(id, {
          resolve: (answer) => resolve({ ...registrationOutcome(answer), at: performance.now() }),
          reject: () => resolve({ kind: "connection-error", at: performance.now() }),
          timer,
        });
      });
    });
    this.socket.write(text);
    return outcomes;
  }

  onData(text) {
    let replies = "";
    for (const element of this.scanner.feed(text)) {
      if (element.startsWith("<iq")) {
        const type = attr(element, "type");
        if (type === "set" || type === "get") {
          // A push (or any request): acknowledge at once, same id, back to the sender.
          const from = attr(element, "from");
          const id = attr(element, "id");
          replies += `<iq type='result' id='${id}'${from ? ` to='${from}'` : ""}/>`;
          this.pushes++;
          continue;
        }
        const waiting = this.pending.get(attr(element, "id"));
        if (waiting) {
          this.pending.delete(attr(element, "id"));
          clearTimeout(waiting.timer);
          waiting.resolve(element);
          continue;
        }
      }
      if (element === "</stream:stream>") {
        this.fail(new Error("stream closed by the server"));
        continue;
      }
      const waiter = this.waiters.shift();
      if (waiter) waiter.resolve(element);
    }
    if (replies) this.write(replies);
  }

  fail(err) {
    if (this.closed) return;
    this.closed = true;
    this.error = err;
    this.rejectFailed(err);
    for (const waiter of this.waiters.splice(0)) waiter.reject(err);
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(err);
    }
    this.pending.clear();
    this.socket.destroy();
  }

  close() {
    if (this.closed) return;
    this.socket.end("</stream:stream>");
    this.closed = true;
  }
}
