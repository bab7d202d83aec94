import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { projectRoot } from "../../core/src/paths";
import { startTestService, type TestService } from "./support/test-service";
import { waitFor } from "../../../testing/wait";

/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core (never a
 * downloaded browser). CI must run it (.ci/run installs chromium); elsewhere, without
 * chromium, the suite is skipped with a message saying so.
 */
const CHROMIUM = "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === "true") throw new Error(`${CHROMIUM} is missing, and CI=true requires the browser tests: apt-get install -y chromium`);
if (!haveChromium) console.warn(`SKIPPED: dashboard browser tests — ${CHROMIUM} not found (apt-get install -y chromium to run them)`);
const describeWithBrowser = haveChromium ? describe : describe.skip;

/** The little of the DOM the page functions below use (the project compiles without lib "dom"). */
declare const document: {
  querySelector(selector: string): { textContent: string | null } | null;
  querySelectorAll(selector: string): Iterable<{ dataset: Record<string, string | undefined> }>;
};

const KEY = "dashboard-test-key-0001";
const ARTIFACTS = join(projectRoot(), "test-artifacts");

describeWithBrowser("the dashboard in Chromium", () => {
  let t: TestService;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const socketUrls: string[] = [];
  const api = () => ({ authorization: `Bearer ${KEY}` });

  beforeAll(async () => {
    t = await startTestService("dashboard", { API_KEYS: KEY });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    // A CSP violation or a script error shows up here: the page must load without either.
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(m.text());
    });
    page.on("pageerror", (e) => problems.push(e.message));
    page.on("response", (r) => {
      if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
    });
    page.on("websocket", (ws) => socketUrls.push(ws.url()));
  });
  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  const submit = async (body: object) => {
    const res = await t.http.post("/jobs").set(api()).send(body);
    expect(res.status).toBe(202);
    return res.body as { id: string };
  };
  const row = (id: string, status: string) => `#jobs tr[data-job-id="${id}"][data-status="${status}"]`;

  test("loads live, shows jobs appear and finish, cancels one, retries one, and filters by status", async () => {
    await page.goto(`${t.baseUrl}/dashboard?api_key=${KEY}`);
    await page.waitForSelector('#connection[data-state="live"]', { timeout: 30_000 });
    // The key was exchanged for a session cookie the page's scripts cannot read, and left the
    // address bar; the WebSocket authenticates with the cookie.
    expect(page.url()).toBe(`${t.baseUrl}/dashboard`);
    expect(socketUrls.length).toBeGreaterThan(0);
    expect(socketUrls.filter((url) => url.includes(KEY))).toEqual([]);
    const [session] = (await page.context().cookies(t.baseUrl)).filter((c) => c.name === "taskq_session");
    expect(session).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/" });
    expect(session!.value).not.toContain(KEY);

    const done = await submit({ type: "email_processing", payload: { email: "user@example.com", subject: "Welcome to the platform!" } });
    const failed = await submit({ type: "fail", payload: { message: "on purpose" }, max_attempts: 1 });
    const waiting = await submit({ type: "sleep", payload: { ms: 20 }, delay_ms: 3_600_000 });
    await page.waitForSelector(row(done.id, "DONE"), { timeout: 30_000 });
    await page.waitForSelector(row(failed.id, "FAILED"), { timeout: 30_000 });
    await page.waitForSelector(row(waiting.id, "PENDING"), { timeout: 30_000 });

    // The detail view of the failed job shows its error.
    await page.click(`#jobs tr[data-job-id="${failed.id}"]`);
    await page.waitForSelector(`#detail[data-job-id="${failed.id}"]`);
    expect(await page.textContent("#detail-error")).toContain("on purpose");
    expect(await page.isDisabled("#cancel-job")).toBe(true);

    // Cancel the waiting job from its detail view, then retry it: it runs and ends DONE.
    await page.click(`#jobs tr[data-job-id="${waiting.id}"]`);
    await page.waitForSelector(`#detail[data-job-id="${waiting.id}"][data-status="PENDING"]`);
    await page.click("#cancel-job");
    await page.waitForSelector(row(waiting.id, "CANCELLED"), { timeout: 30_000 });
    await page.waitForSelector("#retry-job:not([disabled])");
    // The retry's answer (PENDING) reaches the page only after the job has run and its DONE
    // update came over the WebSocket: the page must not let the older answer win.
    await page.route(`**/jobs/${waiting.id}/retry`, async (route) => {
      const answer = await route.fetch();
      await waitFor("the retried job to be DONE", async () => ((await t.http.get(`/jobs/${waiting.id}`).set(api())).body.status === "DONE" ? true : undefined), { timeoutMs: 30_000 });
      await page.waitForSelector(row(waiting.id, "DONE"), { timeout: 30_000 });
      await route.fulfill({ response: answer });
    });
    await page.click("#retry-job");
    await page.waitForSelector(row(waiting.id, "DONE"), { timeout: 30_000 });
    await page.waitForSelector(`#detail[data-job-id="${waiting.id}"][data-status="DONE"]`, { timeout: 30_000 });
    expect(JSON.parse((await page.textContent("#detail-result"))!)).toEqual({ slept_ms: 20 });
    const retried = (await t.http.get(`/jobs/${waiting.id}`).set(api())).body;
    expect(retried).toMatchObject({ status: "DONE", attempts: 1 });

    // Counts come from /stats and follow the updates.
    const atLeast = ([status, min]: [string, number]) => Number(document.querySelector(`.count[data-status="${status}"] b`)?.textContent) >= min;
    await page.waitForFunction(atLeast, ["DONE", 2] as [string, number], { timeout: 30_000 });
    await page.waitForFunction(atLeast, ["FAILED", 1] as [string, number], { timeout: 30_000 });

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "dashboard.png"), fullPage: true });

    // A status filter leaves only matching rows.
    await page.selectOption("#filter-status", "DONE");
    await page.waitForFunction(() => [...document.querySelectorAll("#jobs tbody tr")].every((r) => r.dataset.status === "DONE"), undefined, { timeout: 30_000 });
    await page.waitForSelector(row(done.id, "DONE"));
    expect(await page.$(row(failed.id, "FAILED"))).toBeNull();
    expect(problems).toEqual([]);
  });

  test("the API docs (Swagger UI) open with the key exchanged the same way, under the same Content Security Policy", async () => {
    const docs = await browser.newPage();
    const docsProblems: string[] = [];
    docs.on("console", (m) => {
      if (m.type() === "error") docsProblems.push(m.text());
    });
    docs.on("pageerror", (e) => docsProblems.push(e.message));
    docs.on("response", (r) => {
      if (r.status() >= 400) docsProblems.push(`${r.status()} ${r.url()}`);
    });
    try {
      await docs.goto(`${t.baseUrl}/docs?api_key=${KEY}`);
      await docs.waitForSelector(".swagger-ui .info .title", { timeout: 30_000 });
      expect(await docs.textContent(".swagger-ui .info .title")).toContain("taskq");
      await docs.waitForSelector(".opblock-summary-path", { timeout: 30_000 });
      expect(docs.url()).toBe(`${t.baseUrl}/docs/`);
      expect(docsProblems).toEqual([]);
    } finally {
      await docs.close();
    }
  });
});
