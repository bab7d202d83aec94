import fc from "fast-check";
import type { OpenApiContract } from "./openapi-contract";
import { pointerOf, takeContractViolations } from "./openapi-contract";

/**
 * A property-based run of the OpenAPI document against a running service, in the manner of
 * Schemathesis: requests are generated from the document's schemas (fast-check), sent, and
 * each answer must be
 *   - no server error (5xx), and of a status the document lists for the operation;
 *   - within the document (the answer checks of openapi-contract.ts, run on every answer);
 *   - a refusal (4xx) when the request breaks the document: one part of a valid request is
 *     made invalid, which the document's own schema confirms before it is sent.
 * Path ids are drawn from random UUIDs and from the ids of jobs the run created, so the
 * operations on a job meet real jobs too.
 */

interface Parameter {
  name: string;
  in: "path" | "query" | "header";
  required?: boolean;
  schema: Schema;
}
type Schema = Record<string, unknown>;
interface Operation {
  method: string;
  path: string;
  operationId: string;
  parameters: Parameter[];
  body?: { schema: Schema; ref: string };
  statuses: string[];
}

/** A request as generated: each part before it is encoded. */
interface Generated {
  params: Record<string, unknown>;
  body?: unknown;
}

export interface FuzzOptions {
  baseUrl: string;
  contract: OpenApiContract;
  /** Sent with every request (e.g. the API key). */
  headers?: Record<string, string>;
  runsPerOperation: number;
  seed?: number;
}

const KNOWN_JOB = "(a job this run created)";
/** Strings and arrays are generated short: long ones test nothing more here, and would make the run slow. */
const MAX_GENERATED_LENGTH = 24;

export async function fuzzAgainstDocument(options: FuzzOptions): Promise<void> {
  const known: string[] = [];
  for (const operation of operationsOf(options.contract)) {
    const valid = requestArbitrary(operation, options.contract);
    const send = (request: Generated) => sendRequest(options, operation, request, known);
    await fc.assert(
      fc.asyncProperty(valid, async (request) => {
        const { status, violations } = await send(request);
        expectAnswer(operation, request, status, violations, "a valid request");
      }),
      { numRuns: options.runsPerOperation, seed: options.seed, endOnFailure: true, includeErrorInReport: true },
    );
    const targets = invalidTargets(operation);
    if (targets.length === 0) continue;
    await fc.assert(
      fc.asyncProperty(valid, fc.constantFrom(...targets), fc.nat(), async (request, target, pick) => {
        const broken = breakRequest(request, target, pick, operation, options.contract);
        fc.pre(broken !== null);
        const { status, violations } = await send(broken!);
        expectAnswer(operation, broken!, status, violations, `a request that breaks ${target}`);
        if (status >= 200 && status < 300) throw new Error(`${describe(operation, broken!)}: ${target} breaks the document, yet it was accepted (${status})`);
      }),
      { numRuns: options.runsPerOperation, seed: options.seed, endOnFailure: true, includeErrorInReport: true },
    );
  }
}

function expectAnswer(operation: Operation, request: Generated, status: number, violations: string[], what: string): void {
  const where = `${describe(operation, request)} (${what})`;
  if (status >= 500) throw new Error(`${where}: a server error, ${status}`);
  if (!operation.statuses.includes(String(status))) throw new Error(`${where}: status ${status} is not documented`);
  if (violations.length > 0) throw new Error(`${where}: the answer breaks the document:\n${violations.join("\n")}`);
}

function operationsOf(contract: OpenApiContract): Operation[] {
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(contract.document.paths ?? {})) {
    for (const [method, op] of Object.entries(item as Record<string, Record<string, unknown>>)) {
      if (typeof op !== "object" || op === null || !("responses" in op)) continue;
      const content = (op.requestBody as { content?: Record<string, { schema: Schema }> } | undefined)?.content?.["application/json"];
      operations.push({
        method: method.toUpperCase(),
        path,
        operationId: String(op.operationId),
        parameters: ((op.parameters ?? []) as Parameter[]).filter((p) => p.in !== ("cookie" as string)),
        ...(content && { body: { schema: content.schema, ref: pointerOf(["paths", path, method, "requestBody", "content", "application/json", "schema"]) } }),
        statuses: Object.keys(op.responses as object),
      });
    }
  }
  return operations;
}

function requestArbitrary(operation: Operation, contract: OpenApiContract): fc.Arbitrary<Generated> {
  const params: Record<string, fc.Arbitrary<unknown>> = {};
  const required: string[] = [];
  for (const p of operation.parameters) {
    const key = `${p.in}:${p.name}`;
    const values = schemaArbitrary(p.schema, contract);
    if (p.in === "path" && p.name === "id") params[key] = fc.oneof(fc.constant(KNOWN_JOB), values);
    // A header carries visible ASCII only (fetch refuses the rest before sending).
    else if (p.in === "header") params[key] = values.filter((v) => typeof v !== "string" || /^[!-~]*$/.test(v));
    // A generated cursor is one the service never wrote (400): mostly go without, so that pages are listed.
    else if (p.name === "cursor") params[key] = fc.option(values, { freq: 4, nil: undefined });
    else params[key] = values;
    if (p.required) required.push(key);
  }
  const paramsArb = fc.record(params, { requiredKeys: required });
  if (!operation.body) return paramsArb.map((generated) => ({ params: generated }));
  const body = operation.body;
  return fc
    .record({ params: paramsArb, body: schemaArbitrary(body.schema, contract) })
    // `not`, and the like, are not generated by construction: drop what the schema refuses.
    .filter((r) => contract.validate(body.ref, r.body).length === 0);
}

/** fast-check values for the JSON Schema subset the document uses. */
function schemaArbitrary(schema: Schema, contract: OpenApiContract, depth = 0): fc.Arbitrary<unknown> {
  if (typeof schema.$ref === "string") return fc.constant(null).chain(() => schemaArbitrary(contract.resolve(schema.$ref as string) as Schema, contract, depth));
  if ("const" in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  const union = (schema.oneOf ?? schema.anyOf) as Schema[] | undefined;
  if (union) return fc.oneof(...union.map((s) => schemaArbitrary(s, contract, depth + 1)));
  if (Array.isArray(schema.type)) return fc.oneof(...(schema.type as string[]).map((type) => schemaArbitrary({ ...schema, type }, contract, depth)));
  const min = (key: string) => (typeof schema[key] === "number" ? (schema[key] as number) : undefined);
  switch (schema.type) {
    case "string": {
      if (typeof schema.pattern === "string") return patternArbitrary(schema.pattern).filter((s) => s.length <= (min("maxLength") ?? Infinity));
      if (schema.format === "date-time") return fc.date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2100-01-01T00:00:00Z"), noInvalidDate: true }).map((d) => d.toISOString());
      return fc.string({ minLength: min("minLength") ?? 0, maxLength: Math.max(min("minLength") ?? 0, Math.min(min("maxLength") ?? MAX_GENERATED_LENGTH, MAX_GENERATED_LENGTH)) });
    }
    case "integer":
      return fc.bigInt({ min: BigInt(min("minimum") ?? -(2 ** 31)), max: BigInt(min("maximum") ?? 2 ** 31) }).map(Number);
    case "number":
      return fc.double({ min: min("minimum") ?? -1e9, max: min("maximum") ?? 1e9, noNaN: true, noDefaultInfinity: true });
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array":
      return fc.array(schemaArbitrary((schema.items as Schema | undefined) ?? {}, contract, depth + 1), {
        minLength: min("minItems") ?? 0,
        maxLength: Math.max(min("minItems") ?? 0, Math.min(min("maxItems") ?? 3, 3)),
      });
    case "object": {
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      const requiredKeys = (schema.required ?? []) as string[];
      if (Object.keys(properties).length === 0) return depth > 2 ? fc.constant({}) : fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 });
      return fc.record(
        Object.fromEntries(Object.entries(properties).map(([name, s]) => [name, schemaArbitrary(s, contract, depth + 1)])),
        { requiredKeys },
      );
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/**
 * Strings matching a pattern. fast-check cannot generate from lookarounds (zod's e-mail pattern
 * has them): those are left out for generating, and the whole pattern filters what comes out.
 */
function patternArbitrary(pattern: string): fc.Arbitrary<string> {
  const full = new RegExp(pattern);
  const withoutLookarounds = pattern.replace(/\(\?<?[!=](?:[^()\\]|\\.)*\)/g, "");
  return fc.stringMatching(new RegExp(withoutLookarounds)).filter((s) => full.test(s));
}

/** The parts of an operation's requests that can be made to break the document. */
function invalidTargets(operation: Operation): string[] {
  const targets = operation.parameters.filter((p) => breakable(p.schema)).map((p) => `${p.in}:${p.name}`);
  if (operation.body) targets.push("body");
  return targets;
}

const breakable = (schema: Schema) => ["integer", "number", "boolean"].includes(String(schema.type)) || "enum" in schema || "pattern" in schema || "maxLength" in schema || "minLength" in schema || schema.format === "uuid";

/** The request with `target` made invalid, or null when this pick does not make it so. */
function breakRequest(request: Generated, target: string, pick: number, operation: Operation, contract: OpenApiContract): Generated | null {
  if (target !== "body") {
    const parameter = operation.parameters.find((p) => `${p.in}:${p.name}` === target)!;
    const candidates = ["not-a-value", "", "-1", "99999999999", "a b", "x".repeat(300)].filter((v) => contract.validate(pointerOfParameter(operation, parameter), coerce(v, parameter.schema)).length > 0 && (parameter.in !== "path" || v !== ""));
    if (candidates.length === 0) return null;
    return { ...request, params: { ...request.params, [target]: candidates[pick % candidates.length] } };
  }
  const body = structuredClone(request.body);
  const spots = objectsIn(body);
  if (spots.length === 0) return null;
  const spot = spots[pick % spots.length]!;
  const keys = Object.keys(spot);
  const mutations: ((o: Record<string, unknown>) => void)[] = [
    (o) => (o.__undocumented__ = 1),
    ...keys.map((k) => (o: Record<string, unknown>) => delete o[k]),
    ...keys.map((k) => (o: Record<string, unknown>) => (o[k] = typeof o[k] === "string" ? 12345 : "a string")),
    ...keys.map((k) => (o: Record<string, unknown>) => (o[k] = typeof o[k] === "number" ? (o[k] as number) * 1e12 + 0.5 : o[k])),
  ];
  mutations[Math.floor(pick / spots.length) % mutations.length]!(spot);
  const broken = { ...request, body };
  return contract.validate(operation.body!.ref, body).length > 0 ? broken : null;
}

function pointerOfParameter(operation: Operation, parameter: Parameter): string {
  return pointerOf(["paths", operation.path, operation.method.toLowerCase(), "parameters", String(operation.parameters.indexOf(parameter)), "schema"]);
}

/** How the service reads a query or path string the schema calls a number. */
function coerce(value: string, schema: Schema): unknown {
  return (schema.type === "integer" || schema.type === "number") && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
}

function objectsIn(value: unknown, found: Record<string, unknown>[] = []): Record<string, unknown>[] {
  if (Array.isArray(value)) for (const item of value) objectsIn(item, found);
  else if (value !== null && typeof value === "object") {
    found.push(value as Record<string, unknown>);
    for (const child of Object.values(value)) objectsIn(child, found);
  }
  return found;
}

async function sendRequest(options: FuzzOptions, operation: Operation, request: Generated, known: string[]): Promise<{ status: number; violations: string[] }> {
  let path = operation.path;
  const query = new URLSearchParams();
  const headers: Record<string, string> = { ...options.headers };
  for (const [key, raw] of Object.entries(request.params)) {
    if (raw === undefined) continue;
    const [where, name] = key.split(":") as [string, string];
    const value = raw === KNOWN_JOB ? (known[known.length - 1] ?? "00000000-0000-0000-0000-000000000000") : String(raw);
    if (where === "path") path = path.replace(`{${name}}`, encodeURIComponent(value));
    else if (where === "query") query.set(name, value);
    else headers[name] = value;
  }
  if (request.body !== undefined) headers["content-type"] = "application/json";
  const url = `${options.baseUrl}${path}${query.size > 0 ? `?${query}` : ""}`;
  const abort = new AbortController();
  const res = await fetch(url, { method: operation.method, headers, body: request.body === undefined ? undefined : JSON.stringify(request.body), signal: abort.signal });
  if (res.headers.get("content-type")?.startsWith("text/event-stream")) {
    // A stream of a job that does not finish would never end: its head is enough here.
    abort.abort();
  } else {
    const text = await res.text();
    if (res.status === 202) for (const id of jobIdsIn(text)) known.push(id);
  }
  return { status: res.status, violations: await takeContractViolations() };
}

function jobIdsIn(text: string): string[] {
  const body = JSON.parse(text) as { id?: string; jobs?: { id: string }[] };
  return body.jobs?.map((j) => j.id) ?? (body.id ? [body.id] : []);
}

function describe(operation: Operation, request: Generated): string {
  return `${operation.operationId} ${JSON.stringify(request).slice(0, 400)}`;
}
