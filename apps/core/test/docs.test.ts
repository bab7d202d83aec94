import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { CONFIG_VARIABLES, loadConfig } from "../src/config";
import { projectRoot } from "../src/paths";
import { type MarkdownFile, readMarkdown } from "./support/markdown";

const root = projectRoot();
const DOCS = ["README.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => join("docs", f))];
const parsed = new Map<string, MarkdownFile>(DOCS.map((doc) => [doc, readMarkdown(join(root, doc))]));
const readme = parsed.get("README.md")!;

/** A target outside the repository (https:, mailto:, //host): not ours to check. */
const EXTERNAL = /^([a-z][a-z0-9+.-]*:|\/\/)/i;

/** GitHub's heading anchors (github-slugger, ESM only, hence loaded once before the tests). */
let anchorsOf: (doc: MarkdownFile) => Set<string>;
beforeAll(async () => {
  const { default: GithubSlugger } = await import("github-slugger");
  anchorsOf = (doc) => {
    const slugger = new GithubSlugger();
    return new Set(doc.headings.map((heading) => slugger.slug(heading)));
  };
});

describe("README", () => {
  test("opens with the two commands a new user runs", () => {
    expect(readme.headings[0]).toBe("taskq");
    const text = readFileSync(join(root, "README.md"), "utf8");
    const firstBlock = text.slice(text.indexOf("```"), text.indexOf("```", text.indexOf("```") + 3));
    expect(firstBlock).toContain("npm install && npm start");
    expect(firstBlock).toContain("npm install && npm test");
  });

  const configRows = () => readme.tableAfter("Configuration").map(([variable, defaultValue]) => ({ variable: unquote(variable!), defaultValue: defaultValue! }));

  test.each(CONFIG_VARIABLES)("documents %s in the configuration table", (variable) => {
    expect(configRows().map((row) => row.variable)).toContain(variable);
  });

  test("documents no variable the service does not read", () => {
    expect(configRows().map((row) => row.variable).filter((v) => !CONFIG_VARIABLES.includes(v))).toEqual([]);
  });

  test("gives each literal default as the code has it", () => {
    const defaults = loadConfig({}) as unknown as Record<string, unknown>;
    // Literal defaults only: `LEASE_MS / 3`, `<hostname>:<PORT>`, "cores" or "7 days" are prose.
    const literal = configRows().filter((row) => CONFIG_VARIABLES.includes(row.variable) && /^`[\w:./-]+`$/.test(row.defaultValue));
    expect(literal.length).toBeGreaterThan(20);
    const wrong = literal.filter((row) => String(defaults[row.variable]) !== unquote(row.defaultValue));
    expect(wrong.map((row) => `${row.variable}: the README says ${row.defaultValue}, the code ${String(defaults[row.variable])}`)).toEqual([]);
  });

  test("links every page of docs/", () => {
    const linked = new Set(readme.links.map((link) => link.href.split("#")[0]));
    expect(DOCS.filter((doc) => doc !== "README.md" && !linked.has(doc))).toEqual([]);
  });
});

describe.each(DOCS)("relative links in %s", (doc) => {
  test("each names a file of the repository, and each #anchor into markdown a heading of it", () => {
    const broken: string[] = [];
    for (const { href, line } of parsed.get(doc)!.links) {
      if (EXTERNAL.test(href)) continue;
      const [path = "", anchor] = href.split("#");
      const target = path === "" ? doc : relative(root, join(root, dirname(doc), decodeURIComponent(path)));
      if (target.startsWith("..")) broken.push(`${doc}:${line} ${href}: outside the repository`);
      else if (!existsSync(join(root, target))) broken.push(`${doc}:${line} ${href}: no file ${target}`);
      else if (anchor !== undefined && target.endsWith(".md")) {
        const targetDoc = parsed.get(target) ?? readMarkdown(join(root, target));
        if (!anchorsOf(targetDoc).has(anchor)) broken.push(`${doc}:${line} ${href}: no heading #${anchor} in ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});

function unquote(cell: string): string {
  return cell.replace(/^`|`$/g, "");
}
