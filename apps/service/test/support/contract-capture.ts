import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Config } from "../../../core/src/config";
import type { Answer, OpenApiContract, ServiceContractSettings } from "./openapi-contract";

/**
 * Where the answers that openapi-contract.ts checks are taken: on the server of an in-process
 * service (whatever the client: supertest, fetch, the CLI's child process, a browser), and in
 * this process's fetch for service processes started from a test.
 */

/** Origins (http://127.0.0.1:port) of running services whose answers are checked, and against what. */
const services = new Map<string, { contract: OpenApiContract; capturedOnServer: boolean }>();

export function settingsOf(config: Pick<Config, "API_KEYS" | "ENABLE_TEST_HANDLERS" | "ROLE">): ServiceContractSettings {
  return { apiKeys: Boolean(config.API_KEYS?.length), testHandlers: config.ENABLE_TEST_HANDLERS, role: config.ROLE };
}

/** The contract of the service at `url`'s origin, if it is one started by a test. */
export function contractAt(url: string): OpenApiContract | undefined {
  const at = new URL(url);
  // A WebSocket URL names the same service as its HTTP twin.
  const origin = at.origin.replace(/^ws(s?):/, "http$1:");
  return services.get(origin)?.contract;
}

/** Checks every answer `server` writes; returns a function that stops it. */
export function checkAnswersOf(server: Server, origin: string, contract: OpenApiContract): () => void {
  const onRequest = (req: IncomingMessage, res: ServerResponse) => captureAnswer(req, res, (answer) => contract.check(answer));
  const onUpgrade = (req: IncomingMessage, socket: Duplex) => captureUpgrade(req, socket, (answer) => contract.check(answer));
  server.prependListener("request", onRequest);
  server.prependListener("upgrade", onUpgrade);
  services.set(origin, { contract, capturedOnServer: true });
  return () => {
    server.off("request", onRequest);
    server.off("upgrade", onUpgrade);
    services.delete(origin);
  };
}

/** Checks the answers this process's fetch gets from a service running in another process. */
export function checkAnswersFetchedFrom(origin: string, contract: OpenApiContract): () => void {
  services.set(origin, { contract, capturedOnServer: false });
  return () => services.delete(origin);
}

/**
 * Wraps globalThis.fetch (once per test file, from the jest setup) so that answers from service
 * processes are checked: status and headers at once, the body as it is read by a clone.
 */
export function checkFetchedAnswers(): void {
  const original = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const res = await original(input, init);
    const url = new URL(input instanceof Request ? input.url : String(input));
    const service = services.get(url.origin);
    if (!service || service.capturedOnServer) return res;
    const method = (init?.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
    const answer: Answer = { method, url: url.pathname + url.search, status: res.status, headers: Object.fromEntries(res.headers), body: Buffer.alloc(0), complete: false };
    const copy = res.clone();
    void (async () => {
      const chunks: Buffer[] = [];
      try {
        if (copy.body) for await (const chunk of copy.body) chunks.push(Buffer.from(chunk));
        answer.complete = true;
      } catch {
        // The caller hung up (an aborted event stream): check what had arrived.
      }
      answer.body = Buffer.concat(chunks);
      service.contract.check(answer);
    })();
    return res;
  };
}

/** Collects what a response writes and hands it over when it ends or its client hangs up. */
function captureAnswer(req: IncomingMessage, res: ServerResponse, done: (answer: Answer) => void): void {
  const chunks: Buffer[] = [];
  let headHeaders: OutgoingHttpHeaders = {};
  let reported = false;
  const collect = (chunk: unknown, encoding?: unknown) => {
    if (chunk !== undefined && chunk !== null && typeof chunk !== "function") chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string, typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8"));
  };
  const report = (complete: boolean) => {
    if (reported) return;
    reported = true;
    const headers = Object.fromEntries(
      Object.entries({ ...res.getHeaders(), ...lowerCase(headHeaders) }).map(([name, value]) => [name, Array.isArray(value) ? value.join(", ") : value === undefined ? undefined : String(value)]),
    );
    done({ method: req.method ?? "GET", url: req.url ?? "/", status: res.statusCode, headers, body: Buffer.concat(chunks), complete });
  };
  const { writeHead, write, end } = res;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    const headers = args.find((a, i) => i > 0 && typeof a === "object" && a !== null && !Array.isArray(a));
    if (headers) headHeaders = headers as OutgoingHttpHeaders;
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse["writeHead"];
  res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    collect(chunk, rest[0]);
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as ServerResponse["write"];
  res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
    collect(chunk, rest[0]);
    // Checked here, before the last bytes leave: the client cannot have the answer before its check is recorded.
    report(true);
    return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest);
  } as ServerResponse["end"];
  res.on("close", () => report(false));
}

/** The raw answer to an upgrade request: 101, or a refusal written straight to the socket. */
function captureUpgrade(req: IncomingMessage, socket: Duplex, done: (answer: Answer) => void): void {
  let head = Buffer.alloc(0);
  const { write, end } = socket;
  const restore = () => {
    socket.write = write;
    socket.end = end;
  };
  const seen = (chunk: unknown, ending: boolean) => {
    if (chunk !== undefined && chunk !== null && typeof chunk !== "function") head = Buffer.concat([head, Buffer.from(chunk as string)]);
    const split = head.indexOf("\r\n\r\n");
    if (split === -1 && !ending) return;
    restore();
    const [statusLine = "", ...lines] = head.subarray(0, split === -1 ? head.length : split).toString("latin1").split("\r\n");
    const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).trim().toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
    const status = Number(statusLine.split(" ")[1]);
    const body = split === -1 || status === 101 ? Buffer.alloc(0) : head.subarray(split + 4);
    done({ method: req.method ?? "GET", url: req.url ?? "/", status, headers, body, complete: true });
  };
  socket.write = function (this: Duplex, chunk: unknown, ...rest: unknown[]) {
    seen(chunk, false);
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as Duplex["write"];
  socket.end = function (this: Duplex, chunk?: unknown, ...rest: unknown[]) {
    seen(chunk, true);
    return (end as (...a: unknown[]) => Duplex).call(this, chunk, ...rest);
  } as Duplex["end"];
}

const lowerCase = (headers: OutgoingHttpHeaders) => Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
