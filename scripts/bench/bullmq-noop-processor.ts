/** BullMQ's sandboxed processor for bench:peers: the noop job, run in a worker thread. */
export default async function noop(): Promise<{ ok: true }> {
  return { ok: true };
}
