import { Worker } from "node:worker_threads";

/**
 * The machine's own parallelism, measured with bare worker threads running the same iterated
 * SHA-256 as the hash handler (no taskq code): N threads each doing `iterations` rounds, wall
 * time. On a machine whose second core is busy with other work the service cannot show a
 * speed-up this probe does not show either.
 */
const SOURCE = `
const { createHash } = require("node:crypto");
const { parentPort, workerData } = require("node:worker_threads");
let digest = Buffer.from("taskq");
for (let i = 0; i < workerData; i++) digest = createHash("sha256").update(digest).digest();
parentPort.postMessage(digest.length);
`;

export async function bareThreadsSeconds(threads: number, iterations: number): Promise<number> {
  const started = performance.now();
  await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<void>((resolve, reject) => {
          const worker = new Worker(SOURCE, { eval: true, workerData: iterations });
          worker.once("message", () => resolve());
          worker.once("error", reject);
        }),
    ),
  );
  return (performance.now() - started) / 1_000;
}
