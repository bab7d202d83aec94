import { startTestService, type TestService } from "./support/test-service";

/**
 * The service speaks plain HTTP; TLS belongs to a proxy in front. HSTS on a plain-HTTP answer is
 * meaningless at best, so it is sent only when the request came over TLS, which the service can
 * only know from X-Forwarded-Proto, and trusts only from a proxy it was told about
 * (TRUST_PROXY_HOPS). Worker processes answer their health routes with the same headers.
 */
const started: TestService[] = [];
afterAll(async () => {
  await Promise.all(started.map((s) => s.stop()));
});
const start = async (name: string, env: Record<string, string>) => {
  const s = await startTestService(name, env);
  started.push(s);
  return s;
};

describe("Strict-Transport-Security", () => {
  test("behind a trusted proxy: sent when the proxy says the request came over https, not otherwise", async () => {
    const t = await start("hsts_proxy", { ROLE: "api", TRUST_PROXY_HOPS: "1" });
    const overTls = await t.http.get("/jobs").set("X-Forwarded-Proto", "https");
    expect(overTls.headers["strict-transport-security"]).toBe("max-age=31536000; includeSubDomains");
    const plain = await t.http.get("/jobs").set("X-Forwarded-Proto", "http");
    expect(plain.headers["strict-transport-security"]).toBeUndefined();
    expect((await t.http.get("/jobs")).headers["strict-transport-security"]).toBeUndefined();
  });

  test("without TRUST_PROXY_HOPS, X-Forwarded-Proto is anyone's to send and is ignored", async () => {
    const t = await start("hsts_direct", { ROLE: "api" });
    expect((await t.http.get("/jobs").set("X-Forwarded-Proto", "https")).headers["strict-transport-security"]).toBeUndefined();
  });

  test("HSTS_MAX_AGE_S sets its max-age; 0 turns it off", async () => {
    const short = await start("hsts_short", { ROLE: "api", TRUST_PROXY_HOPS: "1", HSTS_MAX_AGE_S: "300" });
    expect((await short.http.get("/jobs").set("X-Forwarded-Proto", "https")).headers["strict-transport-security"]).toBe("max-age=300; includeSubDomains");
    const off = await start("hsts_off", { ROLE: "api", TRUST_PROXY_HOPS: "1", HSTS_MAX_AGE_S: "0" });
    expect((await off.http.get("/jobs").set("X-Forwarded-Proto", "https")).headers["strict-transport-security"]).toBeUndefined();
  });
});

describe("a worker process", () => {
  test("answers /healthz, /readyz, /metrics and a 404 with the API's headers", async () => {
    const t = await start("worker_headers", { ROLE: "worker" });
    const answers = await Promise.all(["/healthz", "/readyz", "/metrics", "/nowhere"].map((path) => t.http.get(path)));
    expect(answers.map((res) => res.status)).toEqual([200, 200, 200, 404]);
    for (const res of answers) {
      expect(res.headers).toMatchObject({
        "content-security-policy": expect.stringMatching(/(^|;)default-src 'self';/),
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        "x-frame-options": "SAMEORIGIN",
        "referrer-policy": "no-referrer",
      });
      expect(res.headers["x-powered-by"]).toBeUndefined();
    }
  });
});
