import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { startTestService, type TestService } from "./support/test-service";

/**
 * Another site, opened in the same browser as someone who can reach the service, must neither
 * read live updates over the WebSocket nor act on jobs with requests a browser sends without a
 * preflight (a no-cors POST). Pages are served by a second HTTP server on another port, so the
 * browser sends their real Origin; Debian's Chromium driven by playwright-core, as in
 * dashboard.browser.test.ts.
 */
const CHROMIUM = "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === "true") throw new Error(`${CHROMIUM} is missing, and CI=true requires the browser tests: apt-get install -y chromium`);
if (!haveChromium) console.warn(`SKIPPED: cross-site browser tests — ${CHROMIUM} not found (apt-get install -y chromium to run them)`);
const describeWithBrowser = haveChromium ? describe : describe.skip;

/** What a page in another origin manages to do against the service (run inside the browser). */
interface Attempt {
  socket: "open" | "refused";
  messages: number;
}

/** Opens the WebSocket, subscribes to everything, and reports whether it opened and what it received. Runs in the page. */
const tryWebSocket = (wsUrl: string): Promise<Attempt> =>
  new Promise((resolve) => {
    const ws = new WebSocket(wsUrl);
    let messages = 0;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      ws.send(JSON.stringify({ op: "subscribe", all: true }));
    };
    ws.onmessage = (m) => {
      messages++;
      if (String(m.data).includes('"subscribed"')) {
        ws.close();
        resolve({ socket: "open", messages });
      }
    };
    ws.onclose = () => resolve({ socket: opened ? "open" : "refused", messages });
  });

/**
 * A cross-site POST that needs no preflight. The browser hides the answer (the service's
 * Cross-Origin-Resource-Policy even turns it into a network error), but the server has acted, or
 * refused to, by then. Runs in the page.
 */
const postWithoutPreflight = async (url: string): Promise<void> => {
  await fetch(url, { method: "POST", mode: "no-cors", credentials: "include" }).catch(() => undefined);
};

/** A plain page at http://<host>:<port>/ standing for another site. */
async function startSiteServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => res.writeHead(200, { "Content-Type": "text/html" }).end("<!doctype html><title>another site</title><p>elsewhere</p>"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as { port: number }).port };
}

describeWithBrowser("requests from other sites, in Chromium", () => {
  let browser: Browser;
  let hostile: { server: Server; port: number };
  let trusted: { server: Server; port: number };
  const services: TestService[] = [];
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    hostile = await startSiteServer();
    trusted = await startSiteServer();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });
  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await Promise.all(services.map((s) => s.stop()));
    for (const site of [hostile, trusted]) await new Promise((resolve) => site?.server.close(resolve));
  });

  const service = async (name: string, env: Record<string, string>) => {
    const t = await startTestService(name, env);
    services.push(t);
    return t;
  };
  const pageAt = async (url: string, context?: BrowserContext): Promise<Page> => {
    const ctx = context ?? (await browser.newContext());
    if (!context) contexts.push(ctx);
    const page = await ctx.newPage();
    await page.goto(url);
    return page;
  };

  test("keys off: a page of another site can neither follow jobs over /ws nor cancel one; a listed origin can", async () => {
    const trustedOrigin = `http://127.0.0.1:${trusted.port}`;
    const t = await service("cross_site_open", { ALLOWED_ORIGINS: trustedOrigin });
    const wsUrl = `ws://127.0.0.1:${t.service.port}/ws`;
    const waiting = await t.submit({ type: "sleep", payload: { ms: 1 }, delay_ms: 3_600_000 });
    const cancelUrl = `${t.baseUrl}/jobs/${waiting.id}/cancel`;

    // Another site (another host name, and another port of the same host).
    for (const origin of [`http://localhost:${hostile.port}`, `http://127.0.0.1:${hostile.port}`]) {
      const page = await pageAt(`${origin}/`);
      expect(await page.evaluate(tryWebSocket, wsUrl)).toEqual({ socket: "refused", messages: 0 });
      await page.evaluate(postWithoutPreflight, cancelUrl);
      expect((await t.get(waiting.id)).status).toBe("PENDING");
    }

    // The origin listed in ALLOWED_ORIGINS.
    const page = await pageAt(`${trustedOrigin}/`);
    expect(await page.evaluate(tryWebSocket, wsUrl)).toMatchObject({ socket: "open" });
    await page.evaluate(postWithoutPreflight, cancelUrl);
    await t.waitForJob(waiting.id, "CANCELLED");
  });

  test("keys on: a browser holding a dashboard session does not lend it to a page of another site", async () => {
    const key = "cross-site-test-key-0001";
    const t = await service("cross_site_keys", { API_KEYS: key });
    const wsUrl = `ws://127.0.0.1:${t.service.port}/ws`;
    const waiting = (await t.http.post("/jobs").set("authorization", `Bearer ${key}`).send({ type: "sleep", payload: { ms: 1 }, delay_ms: 3_600_000 })).body as { id: string };

    // One browser profile: the dashboard's session cookie is set, then another site is opened.
    // The other site is on the same host (another port): same-site for SameSite's purposes, so
    // the cookie goes along; the Origin check is what refuses.
    const context = await browser.newContext();
    contexts.push(context);
    const dashboard = await pageAt(`${t.baseUrl}/dashboard?api_key=${key}`, context);
    await dashboard.waitForSelector('#connection[data-state="live"]', { timeout: 30_000 });
    expect((await context.cookies(t.baseUrl)).map((c) => c.name)).toContain("taskq_session");

    const page = await pageAt(`http://127.0.0.1:${hostile.port}/`, context);
    expect(await page.evaluate(tryWebSocket, wsUrl)).toEqual({ socket: "refused", messages: 0 });
    await page.evaluate(postWithoutPreflight, `${t.baseUrl}/jobs/${waiting.id}/cancel`);
    expect((await t.http.get(`/jobs/${waiting.id}`).set("authorization", `Bearer ${key}`)).body.status).toBe("PENDING");
  });
});
