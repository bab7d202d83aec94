#!/usr/bin/env node
// Launcher for the taskq CLI, compiled from apps/cli/src (npm run build).
"use strict";
const { existsSync } = require("node:fs");
const { join } = require("node:path");

const entry = join(__dirname, "..", "dist", "apps", "cli", "src", "main.js");
if (!existsSync(entry)) {
  process.stderr.write("taskq: the CLI is not built yet; run `npm run build` in " + join(__dirname, "..") + "\n");
  process.exit(3);
}
require(entry).run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write("taskq: unexpected error: " + (error && error.stack ? error.stack : String(error)) + "\n");
    process.exitCode = 3;
  },
);
