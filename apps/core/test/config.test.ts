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
    expect(loadConfig({ WORKER_JOB_TYPES: "hash, noop", API_KEYS: "a,b" })).toMatchObject({ WORKER_JOB_TYPES: ["hash", "noop"], API_KEYS: ["a", "b"] });
  });

  test("an empty variable counts as unset", () => {
    expect(loadConfig({ PORT: "" }).PORT).toBe(8000);
  });
});
