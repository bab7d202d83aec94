import { backoffMs } from "../src/retry-policy";

const config = { RETRY_BASE_MS: 1_000, RETRY_FACTOR: 2, RETRY_MAX_MS: 10_000 };

describe("backoffMs", () => {
  test("grows exponentially with equal jitter: between half and all of base × factor^(attempt − 1)", () => {
    expect([1, 2, 3].map((a) => backoffMs(a, config, () => 0))).toEqual([500, 1_000, 2_000]);
    expect([1, 2, 3].map((a) => backoffMs(a, config, () => 1))).toEqual([1_000, 2_000, 4_000]);
  });

  test("is capped at RETRY_MAX_MS however many attempts failed", () => {
    expect(backoffMs(50, config, () => 1)).toBe(10_000);
    expect(backoffMs(50, config, () => 0)).toBe(5_000);
  });
});
