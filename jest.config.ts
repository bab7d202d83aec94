import type { Config } from "jest";

/**
 * Tests run from the compiled output (npm test builds first), so the worker threads load the
 * same dist/ files as production. No ts-jest: one compile path for code and tests.
 */
const config: Config = {
  rootDir: ".",
  testEnvironment: "node",
  testMatch: ["<rootDir>/dist/apps/**/test/**/*.test.js"],
  testTimeout: 60_000,
  setupFiles: ["<rootDir>/dist/apps/service/test/support/jest-realm-setup.js"],
  maxWorkers: 2,
  verbose: true,
  // A test that leaves a server, pool or timer open fails loudly instead of hanging CI.
  forceExit: false,
  detectOpenHandles: false,
};

export default config;
