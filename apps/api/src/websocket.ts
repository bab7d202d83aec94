import type { IncomingMessage, Server } from "node:http";
import type { Socket } from "node:net";
import type { Express, Request, RequestHandler } from "express";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import { z } from "zod";
import type { Config } from "../../core/src/config";
import type { HandlerRegistry } from "../../core/src/handlers/registry";
import { type FieldError, HttpProblem } from "../../core/src/http/problem";
import type { Logger } from "../../core/src/logger";
import type { Metrics } from "../../core/src/metrics/metrics";
import type { Authenticator } from "./auth";
import { clientOf, type RealtimeLimits, tooManyAllSubscriptions, tooManyConnections } from "./client-limits";
import type { JobFeed, JobUpdate, Subscription, SubscriptionFilter } from "./job-feed";
import { jobSchema, problemSchema } from "./jobs.schemas";
import type { OriginCheck } from "./origin-check";

export const WS_PATH = "/ws";
/** A client may follow this many job ids on one connection; types and `all` cover the rest. */
const MAX_JOB_IDS_PER_CONNECTION = 10_000;
/** Close code when a client reads too slowly (RFC 6455 1013 "try again later"). */
export const CLOSE_TOO_SLOW = 1013;

const filterFields = {
  job_ids: z.array(z.uuid({ message: "must be a UUID" })).min(1).max(1_000).optional(),
  types: z.array(z.string().min(1).max(100)).min(1).max(100).optional(),
  all: z.literal(true).optional(),
  /** Echoed in the answer, so a client can match answers to requests. */
  ref: z.string().max(200).optional(),
};
export const webSocketClientMessage = z
  .discriminatedUnion("op", [z.strictObject({ op: z.literal("subscribe"), ...filterFields }), z.strictObject({ op: z.literal("unsubscribe"), ...filterFields })])
  .refine((m) => m.job_ids !== undefined || m.types !== undefined || m.all !== undefined, { message: "give job_ids, types or all: true", path: ["op"] })
  .meta({ id: "WebSocketClientMessage", description: "What a client sends: subscribe to or unsubscribe from job ids, types or everything (give at least one)." });

const ref = z.string().optional().meta({ description: "The `ref` of the message answered." });
/** What the server sends; documented in the OpenAPI document (GET /ws), checked against it by the tests. */
export const webSocketServerMessage = z
  .discriminatedUnion("event", [
    z.object({ event: z.literal("job.updated"), job: jobSchema }),
    z.object({
      event: z.enum(["subscribed", "unsubscribed"]),
      ref,
      subscriptions: z.object({ job_ids: z.array(z.uuid()), types: z.array(z.string()), all: z.boolean() }).meta({ description: "Everything the connection follows now." }),
    }),
    z.object({ event: z.literal("error"), ref, error: problemSchema.omit({ instance: true, request_id: true }) }),
  ])
  .meta({ id: "WebSocketServerMessage" });

/** GET /ws without an upgrade: the endpoint exists, but speaks only WebSocket. */
export const upgradeRequired: RequestHandler = () => {
  throw new HttpProblem(426, "upgrade-required", "Upgrade required", `${WS_PATH} speaks WebSocket only: send Upgrade: websocket.`, undefined, { Upgrade: "websocket" });
};

export interface WebSocketDeps {
  /** The HTTP API: handshakes are read as its requests are (trusted proxies, host, query). */
  app: Express;
  feed: JobFeed;
  registry: HandlerRegistry;
  config: Config;
  logger: Logger;
  metrics: Metrics;
  /** Null when API keys are off. */
  auth: Authenticator | null;
  origins: OriginCheck;
  limits: RealtimeLimits;
}

/**
 * /ws on the HTTP server: clients subscribe to job ids, types or everything and receive
 * `{"event":"job.updated","job":{…}}`. A bad message gets `{"event":"error",…}` back; the
 * connection stays. A client whose unsent data exceeds WS_MAX_BUFFERED_BYTES is closed with
 * 1013 and a reason, instead of the server buffering for it without bound.
 *
 * A handshake is refused (an HTTP problem, no upgrade) from a page of another origin (403,
 * origin-check.ts), without a key when keys are on (401), and past the client's connection
 * limit (429); a subscription to everything past the client's limit is an error message (429).
 */
export function attachWebSocket(server: Server, deps: WebSocketDeps): { close(): void } {
  const { feed, config, logger, metrics, auth, origins, limits } = deps;
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const alive = new WeakMap<WebSocket, boolean>();
  // The same bytes for every subscriber of an update: one string build and one UTF-8 encoding.
  const messages = new WeakMap<JobUpdate, Buffer>();
  const messageOf = (update: JobUpdate) => {
    let message = messages.get(update);
    if (!message) messages.set(update, (message = Buffer.from(`{"event":"job.updated","job":${update.resourceJson}}`)));
    return message;
  };

  const onUpgrade = (incoming: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    // What Express does to each of its requests: req.host, req.ip and req.query then read the
    // handshake exactly as the HTTP routes read theirs.
    const req = Object.setPrototypeOf(incoming, deps.app.request) as Request;
    if (req.path !== WS_PATH) return refuse(socket, new HttpProblem(404, "not-found", "Not found", `No WebSocket endpoint at ${req.path}; use ${WS_PATH}.`));
    const refused = origins.check(req) ?? authenticate(req);
    if (refused) return refuse(socket, refused);
    const release = limits.connections.take(clientOf(req));
    if (!release) return refuse(socket, tooManyConnections(limits.connections.max));
    // Given back when the socket closes, however the handshake or the connection ends.
    socket.once("close", release);
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, socket, clientOf(req)));
  };

  const authenticate = (req: Request): HttpProblem | null => {
    if (!auth) return null;
    const result = auth.authenticate(req, true);
    if (result instanceof HttpProblem) return result;
    req.apiKeyId = result;
    return null;
  };

  const onConnection = (ws: WebSocket, socket: Socket, client: string) => {
    alive.set(ws, true);
    metrics.realtimeConnections.inc({ transport: "ws" });
    const sub = feed.subscribe(
      (updates) => {
        if (ws.readyState !== WebSocket.OPEN) return;
        if (ws.bufferedAmount > config.WS_MAX_BUFFERED_BYTES) {
          sub.close();
          metrics.realtimeDropped.inc({ transport: "ws" });
          logger.warn("closing a WebSocket client that does not read its updates", { bufferedBytes: ws.bufferedAmount });
          ws.close(CLOSE_TOO_SLOW, `too slow: over ${config.WS_MAX_BUFFERED_BYTES} bytes of updates unread`);
          return;
        }
        // One write for the whole round instead of one per message: the socket is corked while
        // ws frames them (ws corks and uncorks each frame itself; the outer cork wins).
        socket.cork();
        try {
          for (const update of updates) ws.send(messageOf(update), { binary: false });
        } finally {
          socket.uncork();
        }
      },
      () => ws.close(1001, "server shutting down"),
    );
    const everything = new AllSubscription(limits, client);
    ws.on("message", (data, isBinary) => onMessage(ws, sub, everything, data, isBinary));
    ws.on("pong", () => alive.set(ws, true));
    ws.on("error", (error) => logger.debug("WebSocket error", { error }));
    ws.on("close", () => {
      sub.close();
      everything.release();
      metrics.realtimeConnections.dec({ transport: "ws" });
    });
  };

  const onMessage = (ws: WebSocket, sub: Subscription, everything: AllSubscription, data: RawData, isBinary: boolean) => {
    let ref: string | undefined;
    try {
      if (isBinary) throw new HttpProblem(400, "malformed-message", "Malformed message", "Send text frames holding JSON.");
      let json: unknown;
      try {
        json = JSON.parse(String(data));
      } catch {
        throw new HttpProblem(400, "malformed-message", "Malformed message", "The message is not valid JSON.");
      }
      ref = typeof (json as { ref?: unknown })?.ref === "string" ? (json as { ref: string }).ref : undefined;
      const parsed = webSocketClientMessage.safeParse(json);
      if (!parsed.success) throw invalid(parsed.error.issues.map((i) => ({ field: i.path.map(String).join(".") || "(root)", message: i.message })));
      const message = parsed.data;
      const filter: SubscriptionFilter = { jobIds: message.job_ids, types: message.types, all: message.all };
      if (message.op === "subscribe") {
        const unknown = (message.types ?? []).flatMap((t, i) => (deps.registry.get(t) ? [] : [{ field: `types.${i}`, message: `unknown job type ${JSON.stringify(t)}` }]));
        if (unknown.length > 0) throw invalid(unknown);
        if (sub.jobIds.size + (message.job_ids?.length ?? 0) > MAX_JOB_IDS_PER_CONNECTION) {
          throw invalid([{ field: "job_ids", message: `at most ${MAX_JOB_IDS_PER_CONNECTION} job ids per connection; subscribe by type instead` }]);
        }
        if (message.all) everything.take();
        sub.add(filter);
      } else {
        sub.remove(filter);
        if (message.all) everything.release();
      }
      send(ws, { event: message.op === "subscribe" ? "subscribed" : "unsubscribed", ...(ref !== undefined && { ref }), subscriptions: describe(sub) });
      // The current state of each job subscribed by id, so a client needs no separate GET.
      if (message.op === "subscribe" && message.job_ids) sub.snapshot(message.job_ids);
    } catch (error) {
      const problem = error instanceof HttpProblem ? error : new HttpProblem(500, "internal-error", "Internal server error");
      if (!(error instanceof HttpProblem)) logger.error("handling a WebSocket message failed", { error });
      send(ws, {
        event: "error",
        ...(ref !== undefined && { ref }),
        error: { type: `urn:taskq:problem:${problem.slug}`, title: problem.title, status: problem.status, detail: problem.detail, ...(problem.errors && { errors: problem.errors }) },
      });
    }
  };

  // Pings find peers that vanished without a close (a laptop closed, a NAT timed out).
  const pinger = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, config.REALTIME_HEARTBEAT_MS);
  pinger.unref();

  server.on("upgrade", onUpgrade);
  return {
    close() {
      clearInterval(pinger);
      server.off("upgrade", onUpgrade);
      for (const ws of wss.clients) ws.close(1001, "server shutting down");
      wss.close();
    },
  };
}

/** A connection's place among its client's subscriptions to everything, held while it is subscribed. */
class AllSubscription {
  private held: (() => void) | null = null;

  constructor(
    private readonly limits: RealtimeLimits,
    private readonly client: string,
  ) {}

  /** Takes the place, or throws the 429 problem; a connection already subscribed keeps its one. */
  take(): void {
    this.held ??= this.limits.allSubscriptions.take(this.client);
    if (!this.held) throw tooManyAllSubscriptions(this.limits.allSubscriptions.max);
  }

  release(): void {
    this.held?.();
    this.held = null;
  }
}

function describe(sub: Subscription): { job_ids: string[]; types: string[]; all: boolean } {
  return { job_ids: [...sub.jobIds], types: [...sub.types], all: sub.all };
}

function send(ws: WebSocket, message: object): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
}

const invalid = (errors: FieldError[]) =>
  new HttpProblem(400, "validation-error", "Invalid message", errors.map((e) => `${e.field}: ${e.message}`).join("; "), errors);

/** Answers a refused upgrade with a plain HTTP problem response and closes the socket. */
function refuse(socket: Socket, problem: HttpProblem): void {
  const body = JSON.stringify({ type: `urn:taskq:problem:${problem.slug}`, title: problem.title, status: problem.status, detail: problem.detail });
  const headers = { "Content-Type": "application/problem+json", "Content-Length": String(Buffer.byteLength(body)), Connection: "close", ...problem.headers };
  const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  socket.end(`HTTP/1.1 ${problem.status} ${problem.title}\r\n${head}\r\n${body}`);
}
