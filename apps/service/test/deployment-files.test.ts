import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { promisify } from "node:util";
import { parse as parseYaml } from "yaml";
import { CONFIG_VARIABLES, loadConfig } from "../../core/src/config";
import { projectRoot } from "../../core/src/paths";
import { startTestService, type TestService } from "./support/test-service";

/**
 * No Docker engine runs here, so the Dockerfile and the compose files are checked against the
 * repository instead: every path, script, port, variable and health check they name must exist
 * and agree with the code. What this cannot show (that the image builds and the containers
 * start) is listed in docs-scaling.md.
 */
const root = projectRoot();
const read = (path: string) => readFileSync(join(root, path), "utf8");
const defaultPort = loadConfig({}).PORT;

interface Instruction {
  op: string;
  args: string;
  stage: string;
}

/** Dockerfile instructions with continuation lines joined and comments dropped, each tagged with its stage. */
function dockerfile(): Instruction[] {
  const lines = read("Dockerfile").replace(/\\\n/g, " ").split("\n");
  const out: Instruction[] = [];
  let stage = "";
  for (const line of lines.map((l) => l.trim())) {
    if (!line || line.startsWith("#")) continue;
    const [, op, args] = /^(\S+)\s+(.*)$/.exec(line)!;
    if (op!.toUpperCase() === "FROM") stage = /\sAS\s+(\S+)/i.exec(args!)?.[1] ?? args!;
    out.push({ op: op!.toUpperCase(), args: args!.trim(), stage });
  }
  return out;
}

/** KEY=value pairs of an ENV instruction (the `ENV A=1 B=2` form). */
function envPairs(args: string): Record<string, string> {
  return Object.fromEntries([...args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
}

function dockerignore(): string[] {
  return read(".dockerignore")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
}

/** The source file a dist/…js entry is compiled from (tsconfig: rootDir ".", outDir "dist"). */
function sourceOf(distFile: string): string {
  return distFile.replace(/^dist\//, "").replace(/\.js$/, ".ts");
}

interface ComposeService {
  image?: string;
  build?: string | { context: string; dockerfile?: string };
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] | string };
  depends_on?: Record<string, { condition: string }>;
  container_name?: string;
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const COMPOSE_FILES = ["docker-compose.yml", "docker/compose.postgres.yml"];
// Compose files share settings through YAML anchors and `<<` merge keys, which Docker Compose resolves.
const compose = (file: string) => parseYaml(read(file), { merge: true }) as ComposeFile;
const ours = (s: ComposeService) => s.build !== undefined || s.image?.startsWith("taskq") === true;

describe("Dockerfile", () => {
  const steps = dockerfile();
  const stages = [...new Set(steps.map((s) => s.stage))].filter(Boolean);
  const runtime = steps.filter((s) => s.stage === stages[stages.length - 1]);

  test("is multi-stage: a build stage and a final runtime stage built from the same Node image", () => {
    expect(stages).toEqual(["build", "runtime"]);
    const froms = steps.filter((s) => s.op === "FROM").map((s) => s.args.split(/\s/)[0]);
    expect(new Set(froms).size).toBe(1);
  });

  test("every COPY from the build context exists in the repository and is not excluded by .dockerignore", () => {
    const ignored = dockerignore();
    const copies = steps.filter((s) => s.op === "COPY" && !s.args.includes("--from"));
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      const sources = copy.args.split(/\s+/).filter((a) => !a.startsWith("--")).slice(0, -1);
      for (const source of sources) {
        expect({ source, exists: existsSync(join(root, source)) }).toEqual({ source, exists: true });
        expect({ source, ignored: ignored.includes(source.replace(/\/$/, "")) }).toEqual({ source, ignored: false });
      }
    }
  });

  test("npm ci runs after package.json, package-lock.json, prisma/ and scripts/ are in place (its postinstall generates the Prisma clients)", () => {
    const build = steps.filter((s) => s.stage === "build");
    const ci = build.findIndex((s) => s.op === "RUN" && /\bnpm ci\b/.test(s.args));
    expect(ci).toBeGreaterThan(-1);
    const copiedBefore = build.slice(0, ci).filter((s) => s.op === "COPY").flatMap((s) => s.args.split(/\s+/).slice(0, -1));
    expect(copiedBefore).toEqual(expect.arrayContaining(["package.json", "package-lock.json", "prisma", "scripts"]));
    const postinstall = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts.postinstall!;
    expect(postinstall).toMatch(/scripts\/prisma-generate\.mjs/);
    expect(existsSync(join(root, "scripts/prisma-generate.mjs"))).toBe(true);
  });

  test("the runtime stage copies only what the build stage produced: production node_modules, dist/, prisma/ (migrations)", () => {
    const outDir = (JSON.parse(read("tsconfig.json")) as { compilerOptions: { outDir: string } }).compilerOptions.outDir;
    const buildDest = steps.filter((s) => s.stage === "build" && s.op === "COPY").flatMap((s) => s.args.split(/\s+/).slice(0, -1));
    const produced = new Set(["node_modules", outDir, ...buildDest]);
    const fromBuild = runtime.filter((s) => s.op === "COPY" && s.args.includes("--from=build"));
    const copied = fromBuild.map((s) => relative("/app", s.args.split(/\s+/).filter((a) => !a.startsWith("--"))[0]!));
    const fromProduced = (path: string) => [...produced].some((p) => path === p || path.startsWith(`${p}/`));
    for (const path of copied) expect({ path, produced: fromProduced(path) }).toEqual({ path, produced: true });
    // The dashboard is served from apps/api/public at run time: the image must carry it.
    expect(copied).toEqual(expect.arrayContaining(["node_modules", "dist", "prisma", "apps/api/public"]));
    const build = steps.filter((s) => s.stage === "build" && s.op === "RUN").map((s) => s.args).join("\n");
    expect(build).toMatch(/npm prune --omit=dev/);
    expect(existsSync(join(root, "prisma/sqlite/migrations"))).toBe(true);
    expect(existsSync(join(root, "prisma/postgresql/migrations"))).toBe(true);
  });

  test("compiles the product only: the build stage and npm run build compile tsconfig.json, which covers apps/*/src and nothing else", () => {
    const build = steps.filter((s) => s.stage === "build" && s.op === "RUN").map((s) => s.args).join("\n");
    expect(build).toMatch(/tsc -b tsconfig\.json\b/);
    expect((JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts.build).toBe("tsc -b tsconfig.json");
    const product = JSON.parse(read("tsconfig.json")) as { include: string[]; files?: string[] };
    expect(product.files).toBeUndefined();
    for (const glob of product.include) expect(glob).toMatch(/^apps\/\*\/src\//);
  });

  test("runs as a non-root user, exposes the default PORT, and starts the service entry that npm start runs", () => {
    const user = runtime.filter((s) => s.op === "USER").map((s) => s.args);
    expect(user).toHaveLength(1);
    expect(user[0]).not.toMatch(/^(root|0)(:|$)/);
    expect(runtime.filter((s) => s.op === "EXPOSE").map((s) => Number(s.args))).toEqual([defaultPort]);
    const env = Object.assign({}, ...runtime.filter((s) => s.op === "ENV").map((s) => envPairs(s.args))) as Record<string, string>;
    for (const key of Object.keys(env)) expect(CONFIG_VARIABLES).toContain(key);
    expect(loadConfig(env).PORT).toBe(defaultPort);
    const cmd = JSON.parse(runtime.find((s) => s.op === "CMD")!.args) as string[];
    expect(cmd[0]).toBe("node");
    const entry = cmd[1]!;
    expect(existsSync(join(root, sourceOf(entry)))).toBe(true);
    expect(existsSync(join(root, entry))).toBe(true);
    const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
    for (const name of ["start", "start:api", "start:worker"]) expect(scripts[name]).toContain(`node ${entry}`);
  });

  test("names no npm script that package.json lacks", () => {
    const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
    const text = [read("Dockerfile"), ...COMPOSE_FILES.map(read)].join("\n");
    for (const [, name] of text.matchAll(/npm (?:run )?([\w:-]+)/g)) {
      if (["ci", "prune", "cache", "install"].includes(name!)) continue;
      expect(Object.keys(scripts)).toContain(name);
    }
  });
});

describe("health checks", () => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService("healthcheck");
  });
  afterAll(async () => {
    await t.stop();
  });

  const healthCommands = (): { where: string; argv: string[]; env: Record<string, string> }[] => {
    const healthcheck = dockerfile().find((s) => s.op === "HEALTHCHECK")!;
    const fromDockerfile = { where: "Dockerfile", argv: JSON.parse(healthcheck.args.slice(healthcheck.args.indexOf("CMD") + 3).trim()) as string[], env: {} };
    const fromCompose = COMPOSE_FILES.flatMap((file) =>
      Object.entries(compose(file).services)
        .filter(([, s]) => ours(s))
        .map(([name, s]) => ({ where: `${file} ${name}`, argv: (s.healthcheck!.test as string[]).slice(1), env: s.environment ?? {} })),
    );
    return [fromDockerfile, ...fromCompose];
  };

  test("every health check of the image and of the compose services asks /healthz with node (no curl in slim images)", () => {
    for (const { where, argv } of healthCommands()) {
      expect({ where, program: argv[0] }).toEqual({ where, program: "node" });
      expect(argv.join(" ")).toContain("/healthz");
    }
  });

  test("each health check command, run for real, passes against a live service and fails when nothing listens", async () => {
    const exitCode = (argv: string[], script: string, port: number) =>
      promisify(execFile)(argv[0]!, [argv[1]!, script], { env: { ...process.env, PORT: String(port) } }).then(
        () => 0,
        (error: { code?: number }) => error.code ?? -1,
      );
    const distinct = new Map(healthCommands().map((c) => [JSON.stringify([c.argv, c.env.PORT]), c]));
    for (const { where, argv, env } of distinct.values()) {
      // The compose checks name the port inside the container; aim them at the test service, then at a closed port.
      const at = (port: number) => argv[2]!.replace(`:${env.PORT ?? defaultPort}/`, `:${port}/`);
      expect({ where, live: await exitCode(argv, at(t.service.port), t.service.port) }).toEqual({ where, live: 0 });
      expect({ where, closed: await exitCode(argv, at(1), 1) }).toEqual({ where, closed: 1 });
    }
  });
});

describe.each(COMPOSE_FILES)("%s", (file) => {
  const doc = compose(file);
  const services = Object.entries(doc.services);

  test("every service built from this repository has a Dockerfile and context that exist", () => {
    for (const [, s] of services.filter(([, s]) => s.build !== undefined)) {
      const build = typeof s.build === "string" ? { context: s.build } : s.build!;
      const context = resolve(root, dirname(file), build.context);
      expect(context).toBe(root);
      expect(existsSync(join(context, build.dockerfile ?? "Dockerfile"))).toBe(true);
    }
  });

  test("every environment variable given to the service is one the config schema knows, with a valid value", () => {
    for (const [name, s] of services.filter(([, s]) => ours(s))) {
      const env = s.environment ?? {};
      for (const key of Object.keys(env)) expect({ service: name, key, known: CONFIG_VARIABLES.includes(key) }).toEqual({ service: name, key, known: true });
      expect(() => loadConfig(env)).not.toThrow();
    }
  });

  test("published ports and health checks use the service's PORT", () => {
    for (const [, s] of services.filter(([, s]) => ours(s))) {
      const port = loadConfig(s.environment ?? {}).PORT;
      for (const mapping of s.ports ?? []) expect(Number(mapping.split(":").pop())).toBe(port);
      expect((s.healthcheck!.test as string[]).join(" ")).toContain(`:${port}/healthz`);
    }
  });

  test("depends_on names existing services, and waits for health only on services that have a health check", () => {
    for (const [, s] of services) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect(doc.services[dep]).toBeDefined();
        if (condition === "service_healthy") expect(doc.services[dep]!.healthcheck).toBeDefined();
      }
    }
  });

  test("named volumes are declared, and a SQLite DATABASE_URL points into a mounted volume", () => {
    for (const [, s] of services) {
      for (const volume of s.volumes ?? []) {
        const [source, target] = volume.split(":");
        if (!source!.startsWith(".") && !source!.startsWith("/")) expect(Object.keys(doc.volumes ?? {})).toContain(source);
        expect(target).toMatch(/^\//);
      }
      const url = s.environment?.DATABASE_URL;
      if (url?.startsWith("file:")) {
        const targets = (s.volumes ?? []).map((v) => v.split(":")[1]!);
        expect(targets.some((t) => url.slice("file:".length).startsWith(`${t}/`))).toBe(true);
      }
    }
  });

  test("a PostgreSQL DATABASE_URL names a service of this file with the same user, password and database", () => {
    for (const [, s] of services.filter(([, s]) => ours(s))) {
      const url = s.environment?.DATABASE_URL;
      if (!url?.startsWith("postgres")) continue;
      const u = new URL(url);
      const pg = doc.services[u.hostname];
      expect(pg?.image).toMatch(/^postgres:/);
      expect(pg!.environment).toMatchObject({ POSTGRES_USER: u.username, POSTGRES_PASSWORD: u.password, POSTGRES_DB: u.pathname.slice(1) });
      expect(s.depends_on?.[u.hostname]?.condition).toBe("service_healthy");
    }
  });
});

describe("the two topologies", () => {
  test("docker-compose.yml brings up one all-in-one service on SQLite with a named volume", () => {
    const doc = compose("docker-compose.yml");
    const services = Object.values(doc.services);
    expect(services).toHaveLength(1);
    expect(services[0]!.environment).toMatchObject({ ROLE: "all" });
    expect(services[0]!.environment!.DATABASE_URL).toMatch(/^file:/);
  });

  test("docker/compose.postgres.yml runs PostgreSQL, an API, and a worker service that can be scaled (no fixed host port or container name)", () => {
    const doc = compose("docker/compose.postgres.yml");
    const byRole = (role: string) => Object.entries(doc.services).filter(([, s]) => s.environment?.ROLE === role);
    expect(byRole("api")).toHaveLength(1);
    const [[, worker]] = byRole("worker") as [[string, ComposeService]];
    expect(worker.ports).toBeUndefined();
    expect(worker.container_name).toBeUndefined();
    expect(Object.keys(worker.depends_on ?? {})).toEqual(expect.arrayContaining(["postgres", byRole("api")[0]![0]]));
  });
});
