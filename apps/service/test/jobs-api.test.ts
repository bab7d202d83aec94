import { startTestService, type TestService } from "./support/test-service";

let t: TestService;
beforeAll(async () => {
  // No worker role: jobs stay PENDING, so listings are stable.
  t = await startTestService("jobs_api", { ROLE: "api" });
});
afterAll(async () => {
  await t.stop();
});

const email = { type: "email_processing", payload: { email: "user@example.com", subject: "Hi" } };

async function count(): Promise<number> {
  let n = 0;
  let cursor: string | null = null;
  do {
    const res = await t.http.get("/jobs").query({ limit: 100, ...(cursor && { cursor }) });
    n += res.body.items.length;
    cursor = res.body.next_cursor;
  } while (cursor);
  return n;
}

describe("submission validation", () => {
  test("an unknown type is a 400 problem naming the field, and nothing is stored", async () => {
    const before = await count();
    const res = await t.http.post("/jobs").send({ type: "rm -rf", payload: {} });
    expect(res.status).toBe(400);
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(res.body.errors[0].field).toBe("type");
    expect(await count()).toBe(before);
  });

  test("payload fields are strictly typed: no coercion of \"5\" to 5", async () => {
    const res = await t.http.post("/jobs").send({ type: "sleep", payload: { ms: "5" } });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ field: "payload.ms" })]);
  });

  test("payload must be a JSON object", async () => {
    const res = await t.http.post("/jobs").send({ type: "noop", payload: [1, 2] });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].field).toBe("payload");
  });
});

describe("GET /jobs", () => {
  test("lists newest first, filters by status and type, and pages with a cursor until next_cursor is null", async () => {
    const created = [];
    for (let i = 0; i < 7; i++) created.push(await t.submit(i % 2 ? { type: "noop", payload: { i } } : { ...email }));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await t.http.get("/jobs").query({ limit: 3, type: "noop", ...(cursor && { cursor }) });
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(3);
      for (const job of res.body.items) expect(job.type).toBe("noop");
      seen.push(...res.body.items.map((j: { id: string }) => j.id));
      cursor = res.body.next_cursor;
    } while (cursor);
    const noops = created.filter((j) => j.type === "noop").map((j) => j.id).reverse();
    expect(seen.slice(0, noops.length)).toEqual(noops);

    const pending = await t.http.get("/jobs").query({ status: "PENDING", limit: 100 });
    expect(pending.body.items.every((j: { status: string }) => j.status === "PENDING")).toBe(true);
    const done = await t.http.get("/jobs").query({ status: "DONE" });
    expect(done.body).toEqual({ items: [], next_cursor: null });
  });

  test.each([
    [{ limit: "0" }, "query.limit"],
    [{ limit: "101" }, "query.limit"],
    [{ limit: "ten" }, "query.limit"],
    [{ status: "DONEISH" }, "query.status"],
    [{ cursor: "garbage" }, "query.cursor"],
    [{ color: "blue" }, "query"],
  ])("a bad query %j is a 400 naming %s", async (query, field) => {
    const res = await t.http.get("/jobs").query(query);
    expect(res.status).toBe(400);
    expect(res.body.errors[0].field).toBe(field === "query" ? "query" : field);
  });
});

describe("POST /jobs/batch", () => {
  test("stores every job in one transaction and answers them in request order", async () => {
    const jobs = [email, { type: "noop", payload: { n: 1 } }, { type: "hash", payload: { data: "x" } }];
    const res = await t.http.post("/jobs/batch").send({ jobs });
    expect(res.status).toBe(202);
    expect(res.body.jobs.map((j: { type: string }) => j.type)).toEqual(["email_processing", "noop", "hash"]);
    for (const job of res.body.jobs) expect((await t.get(job.id)).status).toBe("PENDING");
  });

  test("if any job is invalid nothing is stored, and the problem names the index and field", async () => {
    const before = await count();
    const res = await t.http.post("/jobs/batch").send({ jobs: [email, email, { type: "email_processing", payload: { email: "nope", subject: "x" } }] });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ field: "jobs.2.payload.email" })]);
    expect(await count()).toBe(before);
  });

  test("0 or more than 1,000 jobs is a 400", async () => {
    expect((await t.http.post("/jobs/batch").send({ jobs: [] })).status).toBe(400);
    const big = Array.from({ length: 1001 }, () => ({ type: "noop", payload: {} }));
    const res = await t.http.post("/jobs/batch").send({ jobs: big });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].field).toBe("jobs");
  });

  test("1,000 jobs in one request are all stored", async () => {
    const before = await count();
    const jobs = Array.from({ length: 1000 }, (_, i) => ({ type: "noop", payload: { i } }));
    const res = await t.http.post("/jobs/batch").send({ jobs });
    expect(res.status).toBe(202);
    expect(await count()).toBe(before + 1000);
  });
});

describe("ETags", () => {
  test("GET /jobs/{id} has one and answers 304 to If-None-Match while the job is unchanged; answers to POST have none", async () => {
    const submitted = await t.http.post("/jobs").send(email);
    const batch = await t.http.post("/jobs/batch").send({ jobs: [email] });
    const cancelled = await t.http.post(`/jobs/${submitted.body.id}/cancel`);
    for (const res of [submitted, batch, cancelled]) {
      expect(res.headers.etag).toBeUndefined();
      expect(res.headers["content-type"]).toBe("application/json; charset=utf-8");
      expect(Number(res.headers["content-length"])).toBe(Buffer.byteLength(res.text));
    }
    expect(submitted.headers.location).toBe(`/jobs/${submitted.body.id}`);

    const first = await t.http.get(`/jobs/${submitted.body.id}`);
    expect(first.body.status).toBe("CANCELLED");
    expect(first.headers.etag).toBeDefined();
    const again = await t.http.get(`/jobs/${submitted.body.id}`).set("If-None-Match", first.headers.etag as string);
    expect(again.status).toBe(304);
    const other = await t.http.get(`/jobs/${batch.body.jobs[0].id}`).set("If-None-Match", first.headers.etag as string);
    expect(other.status).toBe(200);
  });
});

describe("discovery and health", () => {
  test("GET /job-types lists each type with its payload JSON Schema", async () => {
    const res = await t.http.get("/job-types");
    expect(res.status).toBe(200);
    const email = res.body.items.find((h: { type: string }) => h.type === "email_processing");
    expect(email.payload_schema).toMatchObject({ type: "object", required: ["email", "subject"] });
    const fail = res.body.items.find((h: { type: string }) => h.type === "fail");
    expect(fail.aliases).toEqual(["error_test"]);
  });

  test("GET /openapi.json is OpenAPI 3.1 with a request schema per registered type; /docs serves Swagger UI on it", async () => {
    const doc = await t.http.get("/openapi.json");
    expect(doc.body.openapi).toBe("3.1.0");
    // The test handlers are on in this service: its document describes them too.
    expect(Object.keys(doc.body.components.schemas.SubmitJob.discriminator.mapping)).toEqual(expect.arrayContaining(["email_processing", "fail", "error_test", "chaos"]));
    expect(doc.body.paths["/jobs/{id}/cancel"].post.operationId).toBe("cancelJob");
    const ui = await t.http.get("/docs/");
    expect(ui.status).toBe(200);
    expect(ui.text).toContain("swagger-ui");
    expect((await t.http.get("/docs/swagger-ui-init.js")).text).toContain("SubmitJob.chaos");
  });

  test("/healthz and /readyz answer", async () => {
    expect((await t.http.get("/healthz")).body).toEqual({ status: "ok" });
    const ready = await t.http.get("/readyz");
    expect(ready.status).toBe(200);
    expect(ready.body.checks.database).toBe("ok");
  });
});
