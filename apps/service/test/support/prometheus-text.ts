/** The samples of a Prometheus text exposition named `name` whose labels include `labels`. */
function samples(text: string, name: string, labels: Record<string, string>): number[] {
  const values: number[] = [];
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) values.push(Number(m[3]));
  }
  return values;
}

/** The value of one sample, labels matched as a subset; 0 if absent. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  return samples(text, name, labels)[0] ?? 0;
}

/** The sum of every sample whose labels include `labels` (e.g. a counter over all its results). */
export function sampleSum(text: string, name: string, labels: Record<string, string> = {}): number {
  return samples(text, name, labels).reduce((a, b) => a + b, 0);
}
