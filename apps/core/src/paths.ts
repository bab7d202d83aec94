import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

/** The project root (where prisma/ lives), found from this file whether run from dist or src. */
export function projectRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, "prisma", "models.prisma"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`prisma/models.prisma not found above ${__dirname}`);
    dir = parent;
  }
  return dir;
}
