import { readFileSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "../src/paths";
import { readMigrations } from "../src/store/migrations";

describe("migrations", () => {
  test.each(["sqlite", "postgresql"] as const)("%s: the migrations cover prisma/models.prisma (run `npm run migration:new -- <name>` after editing it)", (dialect) => {
    const dir = join(projectRoot(), "prisma", dialect);
    const schema = readFileSync(join(dir, "schema.prisma"), "utf8");
    const snapshot = readFileSync(join(dir, "migrations", "schema.snapshot.prisma"), "utf8");
    expect(snapshot).toBe(schema);
  });

  test("both dialects have the same migrations, in the same order", () => {
    expect(readMigrations("sqlite").map((m) => m.name)).toEqual(readMigrations("postgresql").map((m) => m.name));
  });
});
