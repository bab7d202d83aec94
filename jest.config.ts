import type { Config } from "jest";
import { Client } from "pg";

/**
 * Tests run from the compiled output (npm test builds first), so the worker threads load the
 * same dist/ files as production. No ts-jest: one compile path for code and tests.
 *
 * Two projects run the same test files: "sqlite" and "postgresql" (each test file then gets its
 * own PostgreSQL schema). A file named *.sqlite.test.ts or *.postgresql.test.ts runs only in
 * that project. One project alone: `npm test -- --selectProjects sqlite`.
 */
const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/test";
const SUPPORT = "<rootDir>/dist/apps/service/test/support";
const PISCINA_INDEX = "piscina/dist/index\\.js$";

async function postgresUnreachable(): Promise<string | null> {
  const client = new Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return null;
  } catch (error) {
    return error instanceof Error ? error.message || error.name : String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export default async (): Promise<Config> => {
  const unreachable = await postgresUnreachable();
  if (unreachable !== null) {
    const where = `PostgreSQL at ${POSTGRES_URL.replace(/\/\/[^@/]*@/, "//…@")} is unreachable (${unreachable})`;
    if (process.env.CI === "true") throw new Error(`${where}; under CI=true the PostgreSQL tests must run.`);
    process.stderr.write(`\n*** ${where}: the "postgresql" project's tests are SKIPPED. Set TEST_POSTGRES_URL or start the server to run them. ***\n\n`);
  }
  const project = (name: "sqlite" | "postgresql", setupFiles: string[], setupFilesAfterEnv: string[]) => ({
    displayName: name,
    rootDir: ".",
    testEnvironment: "node",
    testMatch: ["<rootDir>/dist/apps/**/test/**/*.test.js"],
    testPathIgnorePatterns: ["/node_modules/", name === "sqlite" ? "\\.postgresql\\.test\\.js$" : "\\.sqlite\\.test\\.js$"],
    // The compiled code runs as it is; only Piscina's realm check is rewritten (see the transform).
    transform: { [PISCINA_INDEX]: `${SUPPORT}/piscina-realm.transform.js` },
    transformIgnorePatterns: [`/node_modules/(?!${PISCINA_INDEX})`],
    setupFiles,
    setupFilesAfterEnv,
  });
  return {
    projects: [
      project("sqlite", [], [`${SUPPORT}/openapi-contract.setup.js`]),
      project("postgresql", [`${SUPPORT}/postgresql.setup.js`], [`${SUPPORT}/openapi-contract.setup.js`, ...(unreachable === null ? [] : [`${SUPPORT}/skip-all.setup.js`])]),
    ],
    testTimeout: 60_000,
    maxWorkers: 2,
    verbose: true,
    // A test that leaves a server, pool or timer open fails loudly instead of hanging CI.
    forceExit: false,
    detectOpenHandles: false,
  };
};
