// Prisma CLI configuration for the SQLite schema. The JS schema engine with a driver adapter
// runs through WebAssembly, so the CLI never downloads a native engine (none can be fetched
// on machines without internet). The service applies migrations itself (apps/core/src/store/migrate.ts).
import { defineConfig } from "prisma/config";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: "sqlite/schema.prisma",
  adapter: async () => new PrismaBetterSQLite3({ url: process.env.DATABASE_URL ?? "file:./data/jobs.db" }),
});
