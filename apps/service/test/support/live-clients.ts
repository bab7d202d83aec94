import WebSocket from "ws";
import { parseEventStream, type ServerSentEvent } from "../../../client/src/event-stream";
import type { JobResource } from "../../../core/src/jobs/job";
import { waitFor } from "../../../../testing/wait";
import { contractAt } from "./contract-capture";

/** An open SSE response: its events as they arrive, and a way to hang up. */
export interface EventStreamClient {
  status: number;
  headers: Headers;
  /** Resolves once the server ends the stream, with every event it sent. */
  ended: Promise<ServerSentEvent[]>;
  events: ServerSentEvent[];
  /** Waits (with a deadline) for an event that satisfies `match`. */
  next(what: string, match: (e: ServerSentEvent) => boolean, timeoutMs?: number): Promise<ServerSentEvent>;
  close(): void;
}

export async function openEventStream(url: string, headers: Record<string, string> = {}): Promise<EventStreamClient> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { accept: "text/event-stream", ...headers }, signal: abort.signal });
  const events: ServerSentEvent[] = [];
  const ended = (async () => {
    if (!res.body || !res.headers.get("content-type")?.startsWith("text/event-stream")) return events;
    try {
      for await (const e of parseEventStream(res.body)) events.push(e);
    } catch (error) {
      if (!abort.signal.aborted) throw error;
    }
    return events;
  })();
  return {
    status: res.status,
    headers: res.headers,
    ended,
    events,
    next: (what, match, timeoutMs = 30_000) => waitFor(what, () => events.find(match), { timeoutMs }),
    close: () => abort.abort(),
  };
}

export const jobOf = (e: ServerSentEvent) => JSON.parse(e.data) as JobResource;

/** A WebSocket client that keeps every message it receives. */
export interface SocketClient {
  ws: WebSocket;
  messages: Record<string, unknown>[];
  send(message: unknown): void;
  /** Waits for a message that satisfies `match`, searching from `from` (an index into messages). */
  next<T = Record<string, unknown>>(what: string, match: (m: Record<string, unknown>) => boolean, options?: { from?: number; timeoutMs?: number }): Promise<T>;
  closed: Promise<{ code: number; reason: string }>;
}

export async function openSocket(url: string, headers: Record<string, string> = {}): Promise<SocketClient> {
  const ws = new WebSocket(url, { headers });
  const messages: Record<string, unknown>[] = [];
  const contract = contractAt(url);
  ws.on("message", (data) => {
    const message = JSON.parse(String(data)) as Record<string, unknown>;
    contract?.checkMessage("WebSocketServerMessage", message, `a message on ${url}`);
    messages.push(message);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: String(reason) })));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return {
    ws,
    messages,
    closed,
    send: (message) => ws.send(typeof message === "string" ? message : JSON.stringify(message)),
    next: <T>(what: string, match: (m: Record<string, unknown>) => boolean, options: { from?: number; timeoutMs?: number } = {}) =>
      waitFor(what, () => messages.slice(options.from ?? 0).find(match) as T | undefined, { timeoutMs: options.timeoutMs ?? 30_000 }),
  };
}

/** Sends a message and waits for its answer (matched by `ref`). */
export function ask(client: SocketClient, message: Record<string, unknown>): Promise<Record<string, unknown>> {
  const ref = `r${Math.random()}`;
  client.send({ ...message, ref });
  return client.next(`the answer to ${JSON.stringify(message)}`, (m) => m.ref === ref);
}

/** The `job` of a job.updated message, if it is one about `id` (any job when id is omitted). */
export const updateOf = (m: Record<string, unknown>, id?: string): JobResource | undefined => {
  const job = m.event === "job.updated" ? (m.job as JobResource) : undefined;
  return job && (id === undefined || job.id === id) ? job : undefined;
};

/** The HTTP status with which the server refused a WebSocket upgrade (throws if it accepted). */
export function refusedStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.on("open", () => {
      ws.terminate();
      reject(new Error(`${url} accepted the upgrade`));
    });
    ws.on("error", () => undefined);
  });
}
