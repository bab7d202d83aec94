import { startTestService, type TestService } from "./support/test-service";

let t: TestService;
beforeAll(async () => {
  t = await startTestService("idempotency");
});
afterAll(async () => {
  await t.stop();
});

const body = { type: "sleep", payload: { ms: 1 }, priority: 3 };
const rowsWithKey = (key: string) => t.service.store.db.prisma.job.count({ where: { idempotencyKey: key } });

describe("Idempotency-Key on POST /jobs", () => {
  test("the same key with the same body returns the first job, marked Idempotent-Replayed", async () => {
    const first = await t.http.post("/jobs").set("Idempotency-Key", "order-1").send(body);
    expect(first.status).toBe(202);
    expect(first.headers["idempotent-replayed"]).toBeUndefined();
    const again = await t.http.post("/jobs").set("Idempotency-Key", "order-1").send(body);
    expect(again.status).toBe(202);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers.location).toBe(`/jobs/${first.body.id}`);
    expect(await rowsWithKey("order-1")).toBe(1);
  });

  test("a replay after the job ran returns it in its current state", async () => {
    const first = await t.http.post("/jobs").set("Idempotency-Key", "order-2").send(body);
    await t.waitForJob(first.body.id, "DONE");
    const again = await t.http.post("/jobs").set("Idempotency-Key", "order-2").send(body);
    expect(again.body).toMatchObject({ id: first.body.id, status: "DONE" });
  });

  test("the same body with its keys in another order is the same request", async () => {
    const first = await t.http.post("/jobs").set("Idempotency-Key", "order-3").send({ type: "noop", payload: { a: 1, b: 2 } });
    const again = await t.http.post("/jobs").set("Idempotency-Key", "order-3").send({ payload: { b: 2, a: 1 }, type: "noop" });
    expect(again.body.id).toBe(first.body.id);
  });

  test("the same key with a different body is a 422 problem, and nothing new is stored", async () => {
    const first = await t.http.post("/jobs").set("Idempotency-Key", "order-4").send(body);
    expect(first.status).toBe(202);
    const before = await t.service.store.db.prisma.job.count();
    const other = await t.http.post("/jobs").set("Idempotency-Key", "order-4").send({ ...body, priority: 4 });
    expect(other.status).toBe(422);
    expect(other.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(other.body).toMatchObject({ status: 422, type: "urn:taskq:problem:idempotency-key-reused" });
    expect(await t.service.store.db.prisma.job.count()).toBe(before);
  });

  test("requests racing with one key create exactly one job, and every answer names it", async () => {
    const answers = await Promise.all(Array.from({ length: 12 }, () => t.http.post("/jobs").set("Idempotency-Key", "race-1").send(body)));
    expect(answers.map((a) => a.status)).toEqual(Array(12).fill(202));
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(answers.filter((a) => a.headers["idempotent-replayed"] === "true")).toHaveLength(11);
    expect(await rowsWithKey("race-1")).toBe(1);
  });

  test("two API processes sharing the database racing with one key create exactly one job", async () => {
    const second = await startTestService("idempotency_second_api", { ROLE: "api" }, t.db);
    try {
      const answers = await Promise.all(
        Array.from({ length: 12 }, (_, i) => (i % 2 ? t.http : second.http).post("/jobs").set("Idempotency-Key", "race-2").send(body)),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(12).fill(202));
      expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
      expect(await rowsWithKey("race-2")).toBe(1);
    } finally {
      await second.stop();
    }
  });

  test("the key is unique at the database level", async () => {
    const first = await t.http.post("/jobs").set("Idempotency-Key", "order-5").send(body);
    const row = await t.service.store.get(first.body.id);
    await expect(t.service.store.db.prisma.job.create({ data: { ...row!, id: "another-id" } })).rejects.toThrow();
  });
});

describe("Idempotency-Key on POST /jobs/batch", () => {
  const batch = { jobs: [{ type: "noop", payload: { n: 1 } }, { type: "noop", payload: { n: 2 } }] };

  test("a repeated batch returns the first batch's jobs, in order, and stores nothing new", async () => {
    const first = await t.http.post("/jobs/batch").set("Idempotency-Key", "batch-1").send(batch);
    expect(first.status).toBe(202);
    const again = await t.http.post("/jobs/batch").set("Idempotency-Key", "batch-1").send(batch);
    expect(again.status).toBe(202);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.body.jobs.map((j: { id: string }) => j.id)).toEqual(first.body.jobs.map((j: { id: string }) => j.id));
    expect(await rowsWithKey("batch-1 0")).toBe(1);
    expect(await rowsWithKey("batch-1 1")).toBe(1);
  });

  test("a single submission's key never matches a job of a batch, whatever the key", async () => {
    const batchAnswer = await t.http.post("/jobs/batch").set("Idempotency-Key", "batch-3").send(batch);
    expect(batchAnswer.status).toBe(202);
    for (const key of ["batch-3#0", "batch-3-0", "batch-3_0"]) {
      const single = await t.http.post("/jobs").set("Idempotency-Key", key).send({ type: "noop", payload: { n: 1 } });
      expect(single.status).toBe(202);
      expect(single.headers["idempotent-replayed"]).toBeUndefined();
      expect(batchAnswer.body.jobs.map((j: { id: string }) => j.id)).not.toContain(single.body.id);
    }
    // A space is how the batch's keys are told apart, and a client's key cannot hold one.
    const spaced = await t.http.post("/jobs").set("Idempotency-Key", "batch-3 0").send({ type: "noop", payload: { n: 1 } });
    expect(spaced.status).toBe(400);
    expect(spaced.body.errors[0].field).toBe("header.Idempotency-Key");
  });

  test("the same key with another batch is a 422 problem", async () => {
    await t.http.post("/jobs/batch").set("Idempotency-Key", "batch-2").send(batch);
    const other = await t.http.post("/jobs/batch").set("Idempotency-Key", "batch-2").send({ jobs: [{ type: "noop", payload: { n: 3 } }, { type: "noop", payload: { n: 4 } }] });
    expect(other.status).toBe(422);
    expect(other.headers["content-type"]).toMatch(/^application\/problem\+json/);
  });
});
