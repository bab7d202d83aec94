import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CONFIG_VARIABLES } from "../src/config";
import { projectRoot } from "../src/paths";

const readme = readFileSync(join(projectRoot(), "README.md"), "utf8");

describe("README", () => {
  test("opens with the two commands a new user runs", () => {
    const firstBlock = readme.slice(readme.indexOf("```"), readme.indexOf("```", readme.indexOf("```") + 3));
    expect(firstBlock).toContain("npm install && npm start");
    expect(firstBlock).toContain("npm install && npm test");
  });

  test.each(CONFIG_VARIABLES)("documents %s in the configuration table", (variable) => {
    expect(readme).toMatch(new RegExp(`^\\| \`${variable}\``, "m"));
  });
});
