/**
 * Milliseconds since the epoch, to the microsecond. performance.now() is monotonic within a
 * process; anchoring it to timeOrigin keeps it comparable across processes. Rounded to three
 * decimals (16 significant digits) so the value survives every trip through JSON, Prisma and
 * both databases unchanged — keyset pagination compares it for equality.
 */
export function nowMs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000) / 1000;
}

export function toIso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/**
 * The distinct whole milliseconds among `instants` (rounded up, so never before the instant),
 * ascending, the earliest `limit` of them: the due times a "jobs:available" announcement carries.
 */
export function earliestDistinctMs(instants: Iterable<number>, limit: number): number[] {
  return [...new Set(Array.from(instants, (ms) => Math.ceil(ms)))].sort((a, b) => a - b).slice(0, limit);
}
