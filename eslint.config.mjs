import js from "@eslint/js";
import tseslint from "typescript-eslint";

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
  // The CLI is a client of the HTTP API: it never reaches into the store or the other apps.
  {
    files: ["apps/cli/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: [{ group: ["**/store/**", "**/generated/**", "@prisma/*", "**/api/**", "**/worker/**", "**/service/**"], message: "The CLI talks to the HTTP API only." }] }] },
  },
  // The client (public, with the package) knows the service only through its OpenAPI document.
  {
    files: ["apps/client/src/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: [{ group: ["**/core/**", "**/api/**", "**/worker/**", "**/service/**", "**/cli/**", "@prisma/*"], message: "The client is built from the OpenAPI document only." }] }] },
  },
  // The boundaries: api and worker never import each other; core imports neither; threads import no store.
  {
    files: ["apps/api/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: [{ group: ["**/worker/**", "**/service/**"], message: "apps/api must not import apps/worker or apps/service; share through apps/core." }] }] },
  },
  {
    files: ["apps/worker/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: [{ group: ["**/api/**", "**/service/**"], message: "apps/worker must not import apps/api or apps/service; share through apps/core." }] }] },
  },
  {
    files: ["apps/core/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: [{ group: ["**/api/**", "**/worker/**", "**/service/**"], message: "apps/core is imported by the apps, never the other way." }] }] },
  },
  {
    files: ["apps/worker/src/thread.ts", "apps/core/src/handlers/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: [{ group: ["**/store/**", "**/generated/**", "@prisma/*", "better-sqlite3", "pg"], message: "Worker threads never touch the database: the dispatcher is the one writer." }] }] },
  },
);
