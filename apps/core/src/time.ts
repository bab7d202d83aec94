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
