import { nowMs } from "../../core/src/time";
import { DueWakeups } from "../../worker/src/due-wakeups";
import { waitFor } from "../../../testing/wait";

describe("DueWakeups", () => {
  test("wakes at or after each due time, never before it and never without a newly reached one; past times and duplicates add nothing", async () => {
    const wokenAt: number[] = [];
    const wakeups = new DueWakeups(() => wokenAt.push(nowMs()));
    const start = nowMs();
    const due = [start + 120, start + 40, start + 80];
    for (const at of due) wakeups.add(at);
    wakeups.add(start + 40);
    wakeups.add(start - 1_000);
    // Due a microsecond ago: claimed by the announcement that brought it, so no timer at the next whole ms.
    wakeups.add(nowMs() - 0.001);
    const last = Math.max(...due);
    await waitFor("a wake-up after the last due time", () => (wokenAt.some((at) => at >= last) ? true : undefined), { timeoutMs: 5_000 });
    wakeups.stop();
    // A loaded event loop may reach several due times in one timer callback, which then wakes once.
    expect(wokenAt.length).toBeGreaterThanOrEqual(1);
    expect(wokenAt.length).toBeLessThanOrEqual(due.length);
    // Each wake-up has a due time (whole ms, rounded up) that it reached and the previous one had not.
    const dueMs = due.map((at) => Math.ceil(at));
    wokenAt.forEach((at, i) => {
      const previous = i === 0 ? -Infinity : wokenAt[i - 1]! - 1;
      expect(dueMs.some((d) => d > previous && d <= at)).toBe(true);
    });
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
