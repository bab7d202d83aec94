import { gzipSync } from "node:zlib";
import type { Response } from "supertest";
import { securityHeaders } from "../../api/src/security-headers";
import { startTestService, type TestService } from "./support/test-service";

const KEY = "k3y-0ne-for-tests";
const OTHER_KEY = "second-key-for-tests";
const BODY_LIMIT_BYTES = 4_096;
let t: TestService;
beforeAll(async () => {
  t = await startTestService("api_safety", { API_KEYS: `${KEY}, ${OTHER_KEY}`, BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES) });
});
afterAll(async () => {
  await t.stop();
});

const rows = () => t.service.store.db.prisma.job.count();
const UUID = "00000000-0000-4000-8000-000000000000";

/** A client never sees how the server is built: no stack frames, file paths, driver or library names. */
function expectNothingInternal(res: Response): void {
  expect(res.text).not.toMatch(/\bat .+:\d+:\d+|node_modules|dist\/apps|\/work\/|Prisma|SQLITE|TypeError|SyntaxError|Unexpected token/i);
}

function expectProblem(res: Response, status: number): void {
  expect(res.status).toBe(status);
  expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, type: expect.stringMatching(/^urn:taskq:problem:/), title: expect.any(String) });
  expectNothingInternal(res);
}

describe("API keys", () => {
  test("without a key every route but /healthz and /readyz is a 401 problem with WWW-Authenticate", async () => {
    const before = await rows();
    const answers = await Promise.all([
      t.http.post("/jobs").send({ type: "noop", payload: {} }),
      t.http.post("/jobs/batch").send({ jobs: [{ type: "noop" }] }),
      t.http.get("/jobs"),
      t.http.get(`/jobs/${UUID}`),
      t.http.delete(`/jobs/${UUID}`),
      t.http.post(`/jobs/${UUID}/cancel`),
      t.http.post(`/jobs/${UUID}/retry`),
      t.http.get("/job-types"),
      t.http.get("/openapi.json"),
      t.http.get("/docs/"),
      t.http.get("/no-such-route"),
    ]);
    for (const res of answers) {
      expectProblem(res, 401);
      expect(res.headers["www-authenticate"]).toMatch(/^Bearer/);
    }
    expect(await rows()).toBe(before);
    expect((await t.http.get("/healthz")).status).toBe(200);
    expect((await t.http.get("/readyz")).status).toBe(200);
  });

  test.each([
    ["a wrong key", `Bearer not-${KEY}`],
    ["a key that is a prefix of a real one", `Bearer ${KEY.slice(0, -1)}`],
    ["an empty bearer", "Bearer "],
    ["another scheme", `Basic ${Buffer.from(`u:${KEY}`).toString("base64")}`],
    ["the bare key", KEY],
  ])("%s is a 401 problem", async (_what, authorization) => {
    expectProblem(await t.http.get("/jobs").set("Authorization", authorization), 401);
  });

  test("each configured key works", async () => {
    for (const key of [KEY, OTHER_KEY]) {
      const res = await t.http.post("/jobs").set("Authorization", `Bearer ${key}`).send({ type: "noop", payload: {} });
      expect(res.status).toBe(202);
    }
  });
});

describe("security headers", () => {
  test("answers, pages and problems carry helmet's headers, scripts from 'self' only, no HSTS over plain HTTP, and no X-Powered-By", async () => {
    const job = (await t.http.post("/jobs").set("Authorization", `Bearer ${KEY}`).send({ type: "noop" })).body as { id: string };
    const answers = [
      await t.http.get("/jobs").set("Authorization", `Bearer ${KEY}`),
      await t.http.post("/jobs").set("Authorization", `Bearer ${KEY}`).send({ type: "noop" }),
      await t.http.get(`/jobs/${job.id}`).set("Authorization", `Bearer ${KEY}`),
      await t.http.get("/dashboard").set("Authorization", `Bearer ${KEY}`),
      await t.http.get("/docs/").set("Authorization", `Bearer ${KEY}`),
      await t.http.get("/no-such-route").set("Authorization", `Bearer ${KEY}`),
      await t.http.get("/jobs"),
      await t.http.get("/healthz"),
      await t.http.get("/readyz"),
    ];
    expect(answers.map((res) => res.status)).toEqual([200, 202, 200, 200, 200, 404, 401, 200, 200]);
    for (const res of answers) {
      expect(res.headers).toMatchObject({
        "content-security-policy": expect.stringMatching(/(^|;)default-src 'self';.*frame-ancestors 'self';.*object-src 'none'/),
        "cache-control": "no-store",
        "cross-origin-opener-policy": "same-origin",
        "cross-origin-resource-policy": "same-origin",
        "origin-agent-cluster": "?1",
        "referrer-policy": "no-referrer",
        "x-content-type-options": "nosniff",
        "x-dns-prefetch-control": "off",
        "x-download-options": "noopen",
        "x-frame-options": "SAMEORIGIN",
        "x-permitted-cross-domain-policies": "none",
        "x-xss-protection": "0",
      });
      const csp = res.headers["content-security-policy"] as string;
      expect(csp).toMatch(/(^|;)script-src 'self'(;|$)/);
      expect(csp).toMatch(/(^|;)script-src-attr 'none'(;|$)/);
      expect(csp).not.toContain("upgrade-insecure-requests");
      expect(res.headers["strict-transport-security"]).toBeUndefined();
      expect(res.headers["x-powered-by"]).toBeUndefined();
    }
  });

  test("a Content-Security-Policy computed per request (a nonce) is refused: it cannot be worked out once", () => {
    expect(() => securityHeaders({ contentSecurityPolicy: { directives: { "script-src": ["'self'", () => "'nonce-abc'"] } } })).toThrow(/nonce/);
  });
});

interface BadInput {
  what: string;
  method?: "get" | "post" | "delete";
  path?: string;
  /** An object is sent as JSON; a string is sent as it is. */
  body?: unknown;
  headers?: Record<string, string>;
  status: number;
  /** The field the problem must name, when it is about one field. */
  field?: string;
}

const deep = (levels: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = { n: value };
  return value;
};
const json = { "Content-Type": "application/json" };

const BAD_INPUTS: BadInput[] = [
  { what: "truncated JSON", body: '{"type": "noop",', headers: json, status: 400 },
  { what: "single-quoted JSON", body: "{'type': 'noop'}", headers: json, status: 400 },
  { what: "trailing garbage after JSON", body: '{"type": "noop"} x', headers: json, status: 400 },
  { what: "a JSON string as the body", body: '"noop"', headers: json, status: 400 },
  { what: "a JSON number as the body", body: "42", headers: json, status: 400 },
  { what: "null as the body", body: "null", headers: json, status: 400 },
  { what: "an array as the body", body: "[]", headers: json, status: 400 },
  { what: "an empty body", body: "", headers: json, status: 400 },
  { what: "no type", body: { payload: {} }, status: 400, field: "type" },
  { what: "a number as type", body: { type: 5 }, status: 400, field: "type" },
  { what: "an unknown type", body: { type: "rm -rf /" }, status: 400, field: "type" },
  { what: "a path as type", body: { type: "../../apps/worker/src/thread.js" }, status: 400, field: "type" },
  { what: "__proto__ as type", body: { type: "__proto__" }, status: 400, field: "type" },
  { what: "constructor as type", body: { type: "constructor" }, status: 400, field: "type" },
  { what: "an unknown top-level field", body: { type: "noop", payload: {}, handler: "eval" }, status: 400 },
  { what: "an array payload", body: { type: "noop", payload: [1] }, status: 400, field: "payload" },
  { what: "a string payload", body: { type: "noop", payload: "x" }, status: 400, field: "payload" },
  { what: "a null payload", body: { type: "noop", payload: null }, status: 400, field: "payload" },
  { what: "a string where a number is due (no coercion)", body: { type: "sleep", payload: { ms: "5" } }, status: 400, field: "payload.ms" },
  { what: "a negative sleep", body: { type: "sleep", payload: { ms: -1 } }, status: 400, field: "payload.ms" },
  { what: "a sleep over one hour", body: { type: "sleep", payload: { ms: 3_600_001 } }, status: 400, field: "payload.ms" },
  { what: "an unknown payload field", body: { type: "sleep", payload: { ms: 1, shell: "ls" } }, status: 400, field: "payload" },
  { what: "an invalid e-mail address", body: { type: "email_processing", payload: { email: "nope", subject: "s" } }, status: 400, field: "payload.email" },
  { what: "zero hash iterations", body: { type: "hash", payload: { data: "x", iterations: 0 } }, status: 400, field: "payload.iterations" },
  { what: "fractional hash iterations", body: { type: "hash", payload: { data: "x", iterations: 1.5 } }, status: 400, field: "payload.iterations" },
  { what: "a string priority", body: { type: "noop", priority: "5" }, status: 400, field: "priority" },
  { what: "a fractional priority", body: { type: "noop", priority: 1.5 }, status: 400, field: "priority" },
  { what: "a huge priority", body: { type: "noop", priority: 1e12 }, status: 400, field: "priority" },
  { what: "max_attempts 0", body: { type: "noop", max_attempts: 0 }, status: 400, field: "max_attempts" },
  { what: "timeout_ms 0", body: { type: "noop", timeout_ms: 0 }, status: 400, field: "timeout_ms" },
  { what: "a negative delay_ms", body: { type: "noop", delay_ms: -5 }, status: 400, field: "delay_ms" },
  { what: "run_at in words", body: { type: "noop", run_at: "tomorrow" }, status: 400, field: "run_at" },
  { what: "run_at without a zone", body: { type: "noop", run_at: "2030-01-01T00:00:00" }, status: 400, field: "run_at" },
  { what: "run_at and delay_ms together", body: { type: "noop", run_at: "2030-01-01T00:00:00Z", delay_ms: 1 }, status: 400, field: "delay_ms" },
  { what: "a payload nested 40 levels deep", body: { type: "noop", payload: deep(40) as object }, status: 400, field: "payload" },
  { what: "a payload nested 1,500 levels deep", body: `{"type":"noop","payload":{"a":${"[".repeat(1_500)}${"]".repeat(1_500)}}}`, headers: json, status: 400, field: "payload" },
  { what: "a body over BODY_LIMIT_BYTES", body: { type: "noop", payload: { pad: "x".repeat(BODY_LIMIT_BYTES) } }, status: 413 },
  { what: "text/plain", body: '{"type":"noop"}', headers: { "Content-Type": "text/plain" }, status: 415 },
  { what: "a form body", body: "type=noop", headers: { "Content-Type": "application/x-www-form-urlencoded" }, status: 415 },
  { what: "no content type", body: Buffer.from('{"type":"noop"}'), headers: {}, status: 415 },
  { what: "a JSON body in latin1", body: '{"type":"noop"}', headers: { "Content-Type": "application/json; charset=latin1" }, status: 415 },
  { what: "an unknown content encoding", body: '{"type":"noop"}', headers: { ...json, "Content-Encoding": "compress" }, status: 415 },
  { what: "a gzip body that is not gzip", body: '{"type":"noop"}', headers: { ...json, "Content-Encoding": "gzip" }, status: 400 },
  { what: "an Idempotency-Key over 255 characters", body: { type: "noop" }, headers: { "Idempotency-Key": "k".repeat(256) }, status: 400 },
  { what: "an Idempotency-Key with a space", body: { type: "noop" }, headers: { "Idempotency-Key": "two words" }, status: 400 },
  { what: "an empty Idempotency-Key", body: { type: "noop" }, headers: { "Idempotency-Key": "" }, status: 400 },
  { what: "a batch whose jobs is not an array", path: "/jobs/batch", body: { jobs: { type: "noop" } }, status: 400, field: "jobs" },
  { what: "an empty batch", path: "/jobs/batch", body: { jobs: [] }, status: 400, field: "jobs" },
  { what: "a batch with one bad job", path: "/jobs/batch", body: { jobs: [{ type: "noop" }, { type: "nope" }] }, status: 400, field: "jobs.1.type" },
  { what: "a batch as text/plain", path: "/jobs/batch", body: "{}", headers: { "Content-Type": "text/plain" }, status: 415 },
  { what: "a job id that is not a UUID", method: "get", path: "/jobs/1%20OR%201=1", status: 400, field: "id" },
  { what: "a path-traversal job id", method: "get", path: "/jobs/..%2F..%2Fetc%2Fpasswd", status: 400, field: "id" },
  { what: "DELETE with a bad id", method: "delete", path: "/jobs/123", status: 400, field: "id" },
  { what: "cancel with a bad id", path: "/jobs/abc/cancel", status: 400, field: "id" },
  { what: "retry with a bad id", path: "/jobs/abc/retry", status: 400, field: "id" },
  { what: "an unknown job", method: "get", path: `/jobs/${UUID}`, status: 404 },
  { what: "limit=0", method: "get", path: "/jobs?limit=0", status: 400, field: "query.limit" },
  { what: "limit=101", method: "get", path: "/jobs?limit=101", status: 400, field: "query.limit" },
  { what: "limit=ten", method: "get", path: "/jobs?limit=ten", status: 400, field: "query.limit" },
  { what: "limit given twice", method: "get", path: "/jobs?limit=1&limit=2", status: 400, field: "query.limit" },
  { what: "an unknown status", method: "get", path: "/jobs?status=DELETED", status: 400, field: "query.status" },
  { what: "a forged cursor", method: "get", path: "/jobs?cursor=eyJhIjoxfQ", status: 400, field: "query.cursor" },
  { what: "an unknown query parameter", method: "get", path: "/jobs?where=1", status: 400 },
  { what: "an unknown route", method: "get", path: "/admin", status: 404 },
];

describe("bad input", () => {
  test("the table has at least 30 cases", () => {
    expect(BAD_INPUTS.length).toBeGreaterThanOrEqual(30);
  });

  test.each(BAD_INPUTS.map((c) => [c.what, c] as const))("%s → the right problem, nothing stored", async (_what, c) => {
    const before = await rows();
    const method = c.method ?? "post";
    let req = t.http[method](c.path ?? "/jobs").set("Authorization", `Bearer ${KEY}`);
    for (const [name, value] of Object.entries(c.headers ?? {})) req = req.set(name, value);
    const res = c.body === undefined ? await req : await req.send(c.body as object);
    expectProblem(res, c.status);
    if (c.field !== undefined) expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(c.field);
    expect(await rows()).toBe(before);
  });

  test("a small gzip body that inflates past BODY_LIMIT_BYTES is a 413, nothing stored", async () => {
    const before = await rows();
    const res = await fetch(`${t.baseUrl}/jobs`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Content-Encoding": "gzip", Authorization: `Bearer ${KEY}` },
      body: gzipSync(JSON.stringify({ type: "noop", payload: { pad: "x".repeat(1_000_000) } })),
    });
    expect(res.status).toBe(413);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(await rows()).toBe(before);
  });

  test("a payload key named __proto__ is data, not a prototype", async () => {
    const res = await t.http
      .post("/jobs")
      .set("Authorization", `Bearer ${KEY}`)
      .set("Content-Type", "application/json")
      .send('{"type":"noop","payload":{"__proto__":{"polluted":true}}}');
    expect(res.status).toBe(202);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
