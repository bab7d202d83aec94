import { settingsOf } from "./support/contract-capture";
import { contractFor } from "./support/openapi-contract";
import { fuzzAgainstDocument } from "./support/openapi-fuzz";
import { startTestService, type TestService } from "./support/test-service";

/**
 * The document against the service, property-based (support/openapi-fuzz.ts): generated valid
 * and invalid requests for every operation; no 5xx, no undocumented status, no answer outside
 * its schema, no invalid request accepted. Bounded here (CONTRACT_FUZZ_RUNS per operation and
 * kind, default 10); CONTRACT_FUZZ_RUNS=500 makes a long run, CONTRACT_FUZZ_SEED repeats one.
 *
 * ROLE=api: the jobs it creates are stored, never run (a generated hash job may ask for two
 * billion rounds).
 */
const KEY = "openapi-fuzz-test-key";
const RUNS = Number(process.env.CONTRACT_FUZZ_RUNS ?? 10);
const SEED = process.env.CONTRACT_FUZZ_SEED === undefined ? undefined : Number(process.env.CONTRACT_FUZZ_SEED);
/** A loaded machine sends a few hundred requests a minute through the answer checks. */
const TIMEOUT_MS = Math.max(120_000, RUNS * 10_000);

let t: TestService;
beforeAll(async () => {
  t = await startTestService("openapi_fuzz", { ROLE: "api", API_KEYS: KEY });
});
afterAll(async () => {
  await t.stop();
});

describe("the OpenAPI document, fuzzed against the service", () => {
  test("every operation: valid requests get documented answers, invalid ones are refused, nothing answers 5xx", async () => {
    await fuzzAgainstDocument({ baseUrl: t.baseUrl, contract: contractFor(settingsOf(t.service.config)), headers: { authorization: `Bearer ${KEY}` }, runsPerOperation: RUNS, seed: SEED });
  }, TIMEOUT_MS);

  test("without a key, every operation but the health checks answers its documented 401", async () => {
    await fuzzAgainstDocument({ baseUrl: t.baseUrl, contract: contractFor(settingsOf(t.service.config)), runsPerOperation: 3, seed: SEED });
  });
});
