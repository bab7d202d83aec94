import js from "@eslint/js";
import tseslint from "typescript-eslint";

/** What may not be imported where, one pattern group per boundary. */
const NOT = {
  clientBeyondContract: { group: ["**/core/**", "**/api/**", "**/worker/**", "**/service/**", "**/cli/**", "@prisma/*"], message: "The client is built from the OpenAPI document only." },
  cliBeyondHttp: { group: ["**/store/**", "**/generated/**", "@prisma/*", "**/api/**", "**/worker/**", "**/service/**"], message: "The CLI talks to the HTTP API only." },
  apiToWorker: { group: ["**/worker/**", "**/service/**"], message: "apps/api must not import apps/worker or apps/service; share through apps/core." },
  workerToApi: { group: ["**/api/**", "**/service/**"], message: "apps/worker must not import apps/api or apps/service; share through apps/core." },
  coreToApps: { group: ["**/api/**", "**/worker/**", "**/service/**"], message: "apps/core is imported by the apps, never the other way." },
  threadToDatabase: { group: ["**/store/**", "**/generated/**", "@prisma/*", "better-sqlite3", "pg"], message: "Worker threads never touch the database: the dispatcher is the one writer." },
  dialectFolders: { group: ["**/store/sqlite/**", "**/store/postgresql/**"], message: "Only apps/core/src/store uses a dialect's folder; use JobStore, the Notifier or StorageUnavailableError." },
  sqliteToPostgresql: { group: ["**/postgresql/**"], message: "The SQLite dialect never imports the PostgreSQL one; share through apps/core/src/store." },
  postgresqlToSqlite: { group: ["**/sqlite/**"], message: "The PostgreSQL dialect never imports the SQLite one; share through apps/core/src/store." },
  toTestFolders: { group: ["**/test/**"], message: "Scripts and the shared harness never import from a test folder: what both need lives in testing/." },
  productToTesting: { group: ["**/test/**", "**/testing/**", "**/scripts/**"], message: "The product (apps/*/src) never imports tests, the test harness or scripts: the production build compiles apps/*/src alone." },
};

/**
 * The boundaries, as zones that do not overlap: ESLint keeps only the last options given for a
 * rule, so a file covered by two configs would lose the first one's patterns.
 */
function boundaries() {
  const zone = (files, patterns, ignores) => ({ files, ...(ignores && { ignores }), rules: { "no-restricted-imports": ["error", { patterns }] } });
  return [
    zone(["apps/cli/**/*.ts"], [NOT.cliBeyondHttp, NOT.productToTesting]),
    // The client (public, with the package) knows the service only through its OpenAPI document.
    zone(["apps/client/src/**/*.ts"], [NOT.clientBeyondContract, NOT.productToTesting]),
    zone(["apps/api/src/**/*.ts"], [NOT.apiToWorker, NOT.dialectFolders, NOT.productToTesting]),
    zone(["apps/api/test/**/*.ts"], [NOT.apiToWorker]),
    zone(["apps/worker/src/thread.ts"], [NOT.workerToApi, NOT.threadToDatabase, NOT.productToTesting]),
    zone(["apps/worker/src/**/*.ts"], [NOT.workerToApi, NOT.dialectFolders, NOT.productToTesting], ["apps/worker/src/thread.ts"]),
    zone(["apps/worker/test/**/*.ts"], [NOT.workerToApi]),
    zone(["apps/core/src/handlers/**/*.ts"], [NOT.coreToApps, NOT.threadToDatabase, NOT.productToTesting]),
    zone(["apps/core/src/store/sqlite/**/*.ts"], [NOT.coreToApps, NOT.sqliteToPostgresql, NOT.productToTesting]),
    zone(["apps/core/src/store/postgresql/**/*.ts"], [NOT.coreToApps, NOT.postgresqlToSqlite, NOT.productToTesting]),
    zone(["apps/core/src/store/*.ts"], [NOT.coreToApps, NOT.productToTesting]),
    zone(["apps/core/src/**/*.ts"], [NOT.coreToApps, NOT.dialectFolders, NOT.productToTesting], ["apps/core/src/handlers/**", "apps/core/src/store/**"]),
    zone(["apps/core/test/**/*.ts"], [NOT.coreToApps]),
    zone(["apps/service/src/**/*.ts"], [NOT.dialectFolders, NOT.productToTesting]),
    zone(["scripts/**/*.ts", "testing/**/*.ts"], [NOT.toTestFolders]),
  ];
}

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "apps/core/src/generated/**", "apps/client/src/generated/**", "coverage/**", "bench-results/**", "test-artifacts/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly", __dirname: "readonly", Buffer: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly", setImmediate: "readonly", URL: "readonly", performance: "readonly", fetch: "readonly" } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-constant-condition": ["error", { checkLoops: false }],
    },
  },
  // The dashboard's script runs in the browser, as plain JavaScript.
  {
    files: ["apps/api/public/**/*.js"],
    languageOptions: { sourceType: "script", globals: { window: "readonly", document: "readonly", location: "readonly", fetch: "readonly", WebSocket: "readonly", URL: "readonly", URLSearchParams: "readonly", setTimeout: "readonly", setInterval: "readonly", requestAnimationFrame: "readonly" } },
  },
  // bin/ holds CommonJS launchers into dist/.
  {
    files: ["bin/**/*.js"],
    languageOptions: { sourceType: "commonjs", globals: { require: "readonly" } },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  ...boundaries(),
);
