import { request as httpRequest, type Server } from "node:http";
import Ajv2020, { type ValidateFunction } from "ajv/dist/2020";
import addFormats from "ajv-formats";
import express, { type ErrorRequestHandler } from "express";
import * as OpenApiValidator from "express-openapi-validator";
import { type OpenApiDocument, openApiDocument } from "../../../api/src/openapi";
import { createRegistry } from "../../../core/src/handlers/registry";
import { concreteFirst, templatePattern } from "../../../core/src/http/method-not-allowed";

/**
 * Every answer the test suite provokes is checked against the OpenAPI document of the service
 * that gave it: a route that drifts from its description fails the test that called it, on
 * both databases (openapi-contract.setup.ts reports at the end of each test).
 *
 * express-openapi-validator (the well-kept validator of Express answers against an OpenAPI 3.1
 * document) checks each JSON answer below 500: that its operation and status are documented
 * and its body fits the schema. It sees an answer only through Express's res.json, and the
 * service writes some answers with res.end (the POST answers, which skip ETag hashing), streams
 * others, answers WebSocket upgrades on the raw socket; so the answer is captured where it is
 * written and replayed into the validator's middleware, on a loopback server of its own.
 *
 * What it cannot check is checked here, against the same document: the status, media type and
 * documented headers of every answer; the bodies of 5xx answers (it skips them); each
 * Server-Sent Event and each WebSocket message; the upgrade answer of GET /ws.
 */

/** An answer as it was written. `body` is everything written; `complete` is false when the client hung up first. */
export interface Answer {
  method: string;
  /** Path and query, as requested. */
  url: string;
  status: number;
  /** Lower-case names. */
  headers: Record<string, string | undefined>;
  body: Buffer;
  complete: boolean;
}

const violations: string[] = [];
const pending = new Set<Promise<void>>();

/** Waits for the checks under way, then returns and forgets every violation found so far. */
export async function takeContractViolations(): Promise<string[]> {
  while (pending.size > 0) await Promise.all(pending);
  return violations.splice(0);
}

/** Which document a service serves follows from its settings, as in createApp. */
export interface ServiceContractSettings {
  apiKeys: boolean;
  testHandlers: boolean;
  role: "all" | "api" | "worker";
}

/** A worker process answers only these (apps/service/src/service.ts workerApp). */
const WORKER_PATHS = ["/healthz", "/readyz", "/metrics"];

const contracts = new Map<string, OpenApiContract>();

/** Closes the validators' replay servers (the jest setup calls it after each test file). */
export async function closeContracts(): Promise<void> {
  await takeContractViolations();
  await Promise.all([...contracts.values()].map((c) => c.close()));
  contracts.clear();
}

export function contractFor(settings: ServiceContractSettings): OpenApiContract {
  const key = JSON.stringify(settings);
  let contract = contracts.get(key);
  if (!contract) {
    const document = openApiDocument({ registry: createRegistry({ includeTestHandlers: settings.testHandlers }), apiKeys: settings.apiKeys });
    if (settings.role === "worker") document.paths = Object.fromEntries(Object.entries(document.paths ?? {}).filter(([path]) => WORKER_PATHS.includes(path)));
    contract = new OpenApiContract(document);
    contracts.set(key, contract);
  }
  return contract;
}

type ResponseObject = { content?: Record<string, { schema?: unknown }>; headers?: Record<string, { $ref?: string; required?: boolean; schema?: unknown }> };
type OperationObject = { responses?: Record<string, ResponseObject> };

export class OpenApiContract {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly paths: { pattern: RegExp; template: string }[];
  private replayServer: Promise<Server> | null = null;
  private readonly replaying = new Map<string, { answer: Answer; problems: string[] }>();
  private nextReplayId = 0;

  constructor(readonly document: OpenApiDocument) {
    addFormats(this.ajv);
    this.ajv.addSchema(document as object, "openapi");
    this.paths = concreteFirst(Object.keys(document.paths ?? {})).map((template) => ({ template, pattern: templatePattern(template) }));
  }

  async close(): Promise<void> {
    const server = await this.replayServer;
    this.replayServer = null;
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  }

  /** Checks an answer; a violation is recorded for takeContractViolations(). */
  check(answer: Answer): void {
    const found = this.operation(answer);
    if (found === "undocumented-path" || found === "ignored") return;
    const label = `${answer.method} ${answer.url} → ${answer.status}`;
    if (found === "undocumented-method") {
      // The service's promise for a documented path asked with another method: 405 (401 first when keys are on).
      if (answer.status !== 405 && answer.status !== 401) violations.push(`${label}: a method the document does not list for this path answered ${answer.status}, not 405`);
      return;
    }
    const problems = this.checkAnswer(found.template, found.operation, answer);
    if (problems.length > 0) violations.push(`${label}: ${problems.join("; ")}`);
    // express-openapi-validator refuses to route a URL that does not decode (`/jobs/%ZZ`): such an
    // answer is checked above (status, media type, headers) but cannot be replayed through it.
    if (isJson(answer) && answer.complete && answer.status < 500 && decodes(answer.url)) this.track(this.validateWithLibrary(answer, label));
  }

  /** Checks a value against a schema of the document's components (WebSocket messages). */
  checkMessage(component: string, value: unknown, where: string): void {
    const problems = this.validate(`#/components/schemas/${component}`, value);
    if (problems.length > 0) violations.push(`${where}: a ${component} that does not fit the document: ${problems.join("; ")}`);
  }

  private operation(answer: Answer): { template: string; operation: OperationObject } | "undocumented-path" | "undocumented-method" | "ignored" {
    // HEAD and OPTIONS are answered by Express for every route; the document lists neither.
    if (answer.method === "HEAD" || answer.method === "OPTIONS") return "ignored";
    const path = new URL(answer.url, "http://x").pathname;
    const match = this.paths.find((p) => p.pattern.test(path));
    if (!match) return "undocumented-path";
    const operation = (this.document.paths?.[match.template] as Record<string, OperationObject> | undefined)?.[answer.method.toLowerCase()];
    return operation ? { template: match.template, operation } : "undocumented-method";
  }

  private checkAnswer(template: string, operation: OperationObject, answer: Answer): string[] {
    const response = operation.responses?.[String(answer.status)];
    if (!response) return [`status ${answer.status} is not documented (documented: ${Object.keys(operation.responses ?? {}).join(", ")})`];
    const problems: string[] = [];
    const pointer = ["paths", template, answer.method.toLowerCase(), "responses", String(answer.status)];
    for (const [name, header] of Object.entries(response.headers ?? {})) {
      const value = answer.headers[name.toLowerCase()];
      const declared = header.$ref ? (this.resolve(header.$ref) as { required?: boolean }) : header;
      if (value === undefined) {
        if (declared.required) problems.push(`header ${name} is missing`);
        continue;
      }
      const schemaRef = header.$ref ? `${header.$ref}/schema` : pointerOf([...pointer, "headers", name, "schema"]);
      problems.push(...this.validate(schemaRef, value).map((p) => `header ${name}: ${p}`));
    }
    const media = answer.headers["content-type"]?.split(";")[0]?.trim().toLowerCase();
    const documented = Object.keys(response.content ?? {});
    if (documented.length === 0) {
      if (answer.body.length > 0) problems.push(`a body (${media ?? "no content type"}) where the document says none`);
      return problems;
    }
    if (media === undefined || !documented.includes(media)) return [...problems, `media type ${media ?? "(none)"} is not documented (documented: ${documented.join(", ")})`];
    const schema = pointerOf([...pointer, "content", media, "schema"]);
    if (media === "text/event-stream") problems.push(...this.checkEvents(schema, answer));
    else if (isJson(answer) && answer.status >= 500 && answer.complete) problems.push(...this.validate(schema, parseJson(answer.body)));
    return problems;
  }

  /** Each complete event of the stream against the event schema, and its data against the schema it names. */
  private checkEvents(schema: string, answer: Answer): string[] {
    const problems: string[] = [];
    const text = answer.body.toString("utf8");
    // Only whole events: a stream cut short (a client hanging up) may end in part of one.
    const blocks = text.split(/\r\n\r\n|\n\n|\r\r/).slice(0, -1);
    const eventSchema = this.resolve(schema) as { properties?: { data?: { contentSchema?: { $ref?: string } } } };
    const dataSchema = eventSchema.properties?.data?.contentSchema?.$ref;
    for (const block of blocks) {
      const fields: Record<string, string> = {};
      for (const line of block.split(/\r\n|\n|\r/)) {
        if (line === "" || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const name = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
        fields[name] = name === "data" && fields.data !== undefined ? `${fields.data}\n${value}` : value;
      }
      // `retry:` alone sets the reconnection delay; it is not an event.
      if (fields.data === undefined) continue;
      problems.push(...this.validate(schema, fields).map((p) => `event ${JSON.stringify(block.slice(0, 80))}: ${p}`));
      if (dataSchema) problems.push(...this.validate(dataSchema, parseJson(Buffer.from(fields.data))).map((p) => `event data: ${p}`));
    }
    return problems;
  }

  /** Why `value` does not fit the schema at `ref` (a pointer into the document, `#/components/…`); empty when it fits. */
  validate(ref: string, value: unknown): string[] {
    let validate = this.compiled.get(ref);
    if (!validate) {
      validate = this.ajv.compile({ $ref: `openapi${ref}` });
      this.compiled.set(ref, validate);
    }
    if (validate(value)) return [];
    return (validate.errors ?? []).map((e) => `${e.instancePath || "(body)"} ${e.message ?? e.keyword}`);
  }

  /** The node of the document at `ref`, following a `$ref` found there. */
  resolve(ref: string): unknown {
    const node = ref
      .replace(/^#\//, "")
      .split("/")
      .map((part) => decodeURIComponent(part).replace(/~1/g, "/").replace(/~0/g, "~"))
      .reduce<unknown>((at, key) => (at as Record<string, unknown> | undefined)?.[key], this.document);
    const next = (node as { $ref?: unknown } | undefined)?.$ref;
    return typeof next === "string" ? this.resolve(next) : node;
  }

  private track(check: Promise<void>): void {
    pending.add(check);
    void check.finally(() => pending.delete(check));
  }

  /** Replays a JSON answer through express-openapi-validator's middleware. */
  private async validateWithLibrary(answer: Answer, label: string): Promise<void> {
    const id = String(this.nextReplayId++);
    const replay = { answer, problems: [] as string[] };
    this.replaying.set(id, replay);
    try {
      this.replayServer ??= listenOnLoopback(this.replayApp());
      const { port } = (await this.replayServer).address() as { port: number };
      await new Promise<void>((resolve, reject) => {
        // A connection per replay (agent: false), closed after it: nothing lingers once the file's tests end.
        const req = httpRequest({ host: "127.0.0.1", port, method: answer.method, path: answer.url, headers: { "x-replay": id }, agent: false }, (res) => {
          res.resume();
          res.on("end", resolve);
        });
        req.on("error", reject);
        req.end();
      });
    } finally {
      this.replaying.delete(id);
    }
    if (replay.problems.length > 0) violations.push(`${label}: ${replay.problems.join("; ")} (express-openapi-validator)`);
  }

  private replayApp(): express.Express {
    const app = express();
    const replayOf = (req: express.Request) => this.replaying.get(String(req.headers["x-replay"]))!;
    app.use(
      OpenApiValidator.middleware({
        apiSpec: structuredClone(this.document) as never,
        validateRequests: false,
        validateSecurity: false,
        validateResponses: { onError: (error, _body, req) => replayOf(req).problems.push(error.message) },
      }),
    );
    app.use((req, res) => {
      const { answer } = replayOf(req);
      res.status(answer.status).type(answer.headers["content-type"] ?? "application/json");
      res.json(parseJson(answer.body));
    });
    const onError: ErrorRequestHandler = (error: { message?: string }, req, res, _next) => {
      replayOf(req).problems.push(`the validator refused the answer: ${error.message ?? String(error)}`);
      res.status(599).end();
    };
    app.use(onError);
    return app;
  }
}

function listenOnLoopback(app: express.Express): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(0, "127.0.0.1", (error?: Error) => (error ? reject(error) : resolve(server)));
  });
}

function decodes(url: string): boolean {
  try {
    decodeURIComponent(url);
    return true;
  } catch {
    return false;
  }
}

const isJson = (answer: Answer) => /^application\/([\w.+-]*\+)?json\b/i.test(answer.headers["content-type"] ?? "");

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return { "(not JSON)": body.toString("utf8").slice(0, 200) };
  }
}

/** A JSON pointer into the document, as a URI fragment. */
export function pointerOf(segments: string[]): string {
  return `#/${segments.map((s) => encodeURIComponent(s.replace(/~/g, "~0").replace(/\//g, "~1"))).join("/")}`;
}
