import { nowMs } from "../../core/src/time";
import { DueWakeups } from "../../worker/src/due-wakeups";
import { waitFor } from "../../../testing/wait";

describe("DueWakeups", () => {
  test("wakes once per due time, in order, never before it; past times (even within this millisecond) and duplicates add nothing", async () => {
    const wokenAt: number[] = [];
    const wakeups = new DueWakeups(() => wokenAt.push(nowMs()));
    const start = nowMs();
    const due = [start + 120, start + 40, start + 80];
    for (const at of due) wakeups.add(at);
    wakeups.add(start + 40);
    wakeups.add(start - 1_000);
    // Due a microsecond ago: claimed by the announcement that brought it, so no timer at the next whole ms.
    wakeups.add(nowMs() - 0.001);
    await waitFor("three wake-ups", () => (wokenAt.length >= 3 ? true : undefined), { timeoutMs: 5_000 });
    wakeups.stop();
    expect(wokenAt).toHaveLength(3);
    const sorted = [...due].sort((x, y) => x - y);
    wokenAt.forEach((at, i) => expect(at).toBeGreaterThanOrEqual(sorted[i]!));
  });

  test("stop() cancels what is pending", async () => {
    let woken = 0;
    const wakeups = new DueWakeups(() => woken++);
    wakeups.add(nowMs() + 30);
    wakeups.stop();
    wakeups.add(nowMs() + 10);
    // A second instance's wake-up, due after both, is the deadline for one that should not come.
    let probeWoken = false;
    new DueWakeups(() => (probeWoken = true)).add(nowMs() + 80);
    await waitFor("a wake-up due after both", () => (probeWoken ? true : undefined), { timeoutMs: 5_000 });
    expect(woken).toBe(0);
  });
});
