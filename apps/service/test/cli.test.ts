import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import type { JobResource } from "../../core/src/jobs/job";
import { projectRoot } from "../../core/src/paths";
import { startTestService, type TestService } from "./support/test-service";
import { waitFor } from "../../../testing/wait";

const KEY = "cli-test-key-000001";
const BIN = join(projectRoot(), "bin", "taskq.js");
let t: TestService;
beforeAll(async () => {
  t = await startTestService("cli", { API_KEYS: KEY });
});
afterAll(async () => {
  await t.stop();
});

interface Run {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number>;
}

/** Runs the real CLI (bin/taskq.js → dist) as a child process against the test service. */
function start(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? "", TASKQ_URL: t.baseUrl, TASKQ_API_KEY: KEY, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const run: Run = { child, stdout: "", stderr: "", exited: new Promise((resolve) => child.on("close", (code) => resolve(code ?? -1))) };
  child.stdout!.on("data", (d: Buffer) => (run.stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (run.stderr += d.toString()));
  return run;
}

async function taskq(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const run = start(args, env);
  const code = await run.exited;
  return { code, stdout: run.stdout, stderr: run.stderr };
}

const jobOut = (stdout: string) => JSON.parse(stdout) as JobResource;

describe("the taskq CLI against a real service", () => {
  test("submit --wait prints the finished job and exits 0", async () => {
    const { code, stdout, stderr } = await taskq(["submit", "email_processing", "--payload", '{"email":"user@example.com","subject":"Hi"}', "--wait"]);
    expect(code).toBe(0);
    expect(jobOut(stdout)).toMatchObject({ type: "email_processing", status: "DONE", result: { delivered_to: "user@example.com" } });
    expect(stderr).toMatch(/DONE/);
  });

  test("submit --wait on a failing job exits 1 with the FAILED job", async () => {
    const { code, stdout, stderr } = await taskq(["submit", "fail", "--payload", '{"message":"broken"}', "--max-attempts", "1", "--wait"]);
    expect(code).toBe(1);
    expect(jobOut(stdout)).toMatchObject({ status: "FAILED", error: { message: "broken" } });
    expect(stderr).toContain("Error: broken");
  });

  test("watch shows a long job's progress; cancelling it ends the watch with exit 1", async () => {
    const job = (await t.http.post("/jobs").set("authorization", `Bearer ${KEY}`).send({ type: "hash", payload: { data: "cli", iterations: 50_000_000 } })).body as JobResource;
    const watch = start(["watch", job.id]);
    await waitFor("a progress line", () => (/RUNNING {2}[1-9]\d*%/.test(watch.stderr) ? true : undefined), { timeoutMs: 60_000 });
    expect((await taskq(["cancel", job.id])).code).toBe(0);
    expect(await watch.exited).toBe(1);
    expect(jobOut(watch.stdout).status).toBe("CANCELLED");
  });

  test("get, list (table and --json), cancel and retry --wait", async () => {
    const submitted = jobOut((await taskq(["submit", "sleep", "--payload", '{"ms":5}', "--delay-ms", "3600000"])).stdout);
    expect(submitted.status).toBe("PENDING");
    expect(jobOut((await taskq(["get", submitted.id])).stdout).id).toBe(submitted.id);
    const table = await taskq(["list", "--type", "sleep", "--status", "PENDING"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`^${submitted.id}\\s+sleep\\s+PENDING`, "m"));
    const page = JSON.parse((await taskq(["list", "--type", "sleep", "--json", "--limit", "5"])).stdout) as { items: JobResource[] };
    expect(page.items.map((j) => j.id)).toContain(submitted.id);
    expect(jobOut((await taskq(["cancel", submitted.id])).stdout).status).toBe("CANCELLED");
    const retried = await taskq(["retry", submitted.id, "--wait"]);
    expect(retried.code).toBe(0);
    expect(jobOut(retried.stdout)).toMatchObject({ status: "DONE", result: { slept_ms: 5 } });
  });

  test("list with nothing to show says so, exits 0", async () => {
    const none = await taskq(["list", "--type", "no_such_type_listed"]);
    expect(none).toMatchObject({ code: 0, stdout: "" });
    expect(none.stderr).toBe("no jobs match\n");
  });

  test("refused requests print the problem's detail and fields, exit 2", async () => {
    const invalid = await taskq(["submit", "email_processing", "--payload", '{"email":"nope"}']);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/400 Invalid request/);
    expect(invalid.stderr).toMatch(/payload\.email/);
    const missing = await taskq(["get", "00000000-0000-4000-8000-000000000000"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("404 Not found: No job 00000000-0000-4000-8000-000000000000");
    const noKey = await taskq(["list"], { TASKQ_API_KEY: "" });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain("401 Unauthorized");
  });

  test("usage errors exit 2 without calling the server", async () => {
    for (const args of [[], ["frobnicate"], ["get"], ["submit", "noop", "--payload", "{oops"], ["submit", "noop", "--priority", "high"], ["list", "--bogus"]]) {
      const { code, stderr } = await taskq(args, { TASKQ_URL: "http://127.0.0.1:9" });
      expect([args, code]).toEqual([args, 2]);
      expect(stderr).toMatch(/^taskq: /);
    }
    const help = await taskq(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: taskq");
  });

  test("an unreachable server exits 3", async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const { code, stderr } = await taskq(["get", "00000000-0000-4000-8000-000000000000"], { TASKQ_URL: `http://127.0.0.1:${port}` });
    expect(code).toBe(3);
    expect(stderr).toContain("cannot reach");
  });
});
