import { readFileSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "../../core/src/paths";
import { contractFiles } from "../../../scripts/openapi";

describe("the checked-in contract", () => {
  test("docs/openapi.json and the client's generated types are what `npm run openapi` writes now", async () => {
    for (const [path, expected] of Object.entries(await contractFiles())) {
      const actual = readFileSync(join(projectRoot(), path), "utf8");
      // One line of advice instead of a diff thousands of lines long.
      if (actual !== expected) throw new Error(`${path} is not current: run \`npm run openapi\` and commit the result.`);
    }
  });
});
