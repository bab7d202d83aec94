// Writes one Prisma schema per dialect from prisma/models.prisma and generates both clients.
// Runs on `npm install` (postinstall). Needs no network: the JS engine and client-only
// generator never download a binary (see README, "Prisma offline").
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const models = readFileSync(join(root, "prisma/models.prisma"), "utf8");

const dialects = {
  sqlite: { provider: "sqlite", url: "file:./data/jobs.db" },
  postgresql: { provider: "postgresql", url: "postgresql://postgres@127.0.0.1:5432/postgres" },
};

for (const [name, { provider, url }] of Object.entries(dialects)) {
  const schemaPath = join(root, "prisma", name, "schema.prisma");
  mkdirSync(dirname(schemaPath), { recursive: true });
  const header = `// GENERATED from prisma/models.prisma by scripts/prisma-generate.mjs. Do not edit.
generator client {
  provider     = "prisma-client"
  output       = "../../apps/core/src/generated/${name}"
  engineType   = "client"
  moduleFormat = "cjs"
}

datasource db {
  provider = "${provider}"
  // The CLI only needs a URL that parses; the service passes its own DATABASE_URL.
  url      = env("PRISMA_CLI_URL_${name.toUpperCase()}")
}
`;
  writeFileSync(schemaPath, header + "\n" + models);
  execFileSync(process.execPath, [join(root, "node_modules/prisma/build/index.js"), "generate", "--config", join(root, "prisma", `${name}.config.ts`)], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, [`PRISMA_CLI_URL_${name.toUpperCase()}`]: url, PRISMA_HIDE_UPDATE_MESSAGE: "1" },
  });
}
