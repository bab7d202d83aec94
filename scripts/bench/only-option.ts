/**
 * The names given by `--only a,b` among `all`, in the order of `all`; every name when the option
 * is absent. An unknown name is an error naming the known ones, not a stage silently skipped.
 */
export function onlyOption<T extends string>(args: readonly string[], all: readonly T[]): T[] {
  if (!args.includes("--only")) return [...all];
  const asked = (args[args.indexOf("--only") + 1] ?? "").split(",");
  const unknown = asked.filter((name) => !(all as readonly string[]).includes(name));
  if (unknown.length > 0) throw new Error(`--only: unknown ${unknown.map((n) => JSON.stringify(n)).join(", ")}; one or more of ${all.join(", ")}`);
  return all.filter((name) => asked.includes(name));
}
