import { ConfigError, loadConfig } from "../src/config";

describe("configuration from the environment", () => {
  test("defaults give the embedded SQLite service on port 8000", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ ROLE: "all", PORT: 8000, DATABASE_URL: "file:./data/jobs.db" });
    expect(config.HEARTBEAT_MS).toBe(Math.floor(config.LEASE_MS / 3));
    expect(Object.isFrozen(config)).toBe(true);
  });

  test("a bad value stops start-up with a message naming each bad variable", () => {
    expect(() => loadConfig({ PORT: "eighty", ROLE: "boss", DATABASE_URL: "mysql://x" })).toThrow(ConfigError);
    try {
      loadConfig({ PORT: "eighty", ROLE: "boss", DATABASE_URL: "mysql://x" });
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toMatch(/PORT: must be a whole number/);
      expect(message).toMatch(/ROLE:/);
      expect(message).toMatch(/DATABASE_URL: must start with file:/);
    }
  });

  test("numbers are range-checked and lists are split", () => {
    expect(() => loadConfig({ CPU_THREADS: "0" })).toThrow(/CPU_THREADS/);
    const keys = ["k".repeat(16), "0123456789abcdef-2"];
    expect(loadConfig({ WORKER_JOB_TYPES: "hash, noop", API_KEYS: ` ${keys[0]}, ${keys[1]}` })).toMatchObject({ WORKER_JOB_TYPES: ["hash", "noop"], API_KEYS: keys });
  });

  test.each([
    ["a comma alone", ",", /API_KEYS: .*blank entry/],
    ["blanks around a comma", " , ", /API_KEYS: .*blank entry/],
    ["a blank entry between two keys", `${"k".repeat(16)},,${"j".repeat(16)}`, /API_KEYS: .*blank entry/],
    ["a one-character key", "a", /API_KEYS: .*at least 16 characters/],
    ["a 15-character key next to a good one", `${"k".repeat(16)},${"s".repeat(15)}`, /API_KEYS: .*at least 16 characters/],
  ])("API_KEYS with %s stops start-up instead of turning authentication off or accepting a guessable key", (_what, value, message) => {
    expect(() => loadConfig({ API_KEYS: value })).toThrow(message);
  });

  test("ALLOWED_ORIGINS takes origins only: a path, a missing scheme or a wildcard stops start-up naming the variable", () => {
    expect(loadConfig({ ALLOWED_ORIGINS: "https://ops.example.com, http://localhost:5173" }).ALLOWED_ORIGINS).toEqual(["https://ops.example.com", "http://localhost:5173"]);
    for (const bad of ["https://ops.example.com/app", "ops.example.com", "*", "null"]) expect(() => loadConfig({ ALLOWED_ORIGINS: bad })).toThrow(/ALLOWED_ORIGINS: each entry must be an origin/);
  });

  test("HTTP_HEADERS_TIMEOUT_MS may not exceed HTTP_REQUEST_TIMEOUT_MS", () => {
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: "20000", HTTP_REQUEST_TIMEOUT_MS: "10000" })).toThrow(/HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS/);
  });

  test("without API keys the service listens on 127.0.0.1 unless HOST says otherwise; with keys, on every interface", () => {
    expect(loadConfig({}).HOST).toBe("127.0.0.1");
    expect(loadConfig({ HOST: "0.0.0.0" }).HOST).toBe("0.0.0.0");
    expect(loadConfig({ API_KEYS: "k".repeat(16) }).HOST).toBe("0.0.0.0");
    expect(loadConfig({ API_KEYS: "k".repeat(16), HOST: "10.0.0.5" }).HOST).toBe("10.0.0.5");
  });

  test("an empty variable counts as unset", () => {
    expect(loadConfig({ PORT: "" }).PORT).toBe(8000);
  });
});
