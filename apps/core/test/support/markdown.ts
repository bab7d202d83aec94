import { readFileSync } from "node:fs";
import MarkdownIt from "markdown-it";

type Token = MarkdownIt.Token;

/** A link as written in a markdown file, with the line it is on (for the failure message). */
export interface MarkdownLink {
  href: string;
  line: number;
}

/** What the docs tests read from one markdown file, parsed as CommonMark (code blocks are not links). */
export interface MarkdownFile {
  /** Every heading's text as GitHub renders it (inline code without its backticks), in order. */
  headings: string[];
  /** Every link and image target, code spans and blocks excluded. */
  links: MarkdownLink[];
  /** The body rows of the first table after the heading `title`, each cell as its markdown source. */
  tableAfter(title: string): string[][];
}

const parser = new MarkdownIt();

export function readMarkdown(path: string): MarkdownFile {
  const tokens = parser.parse(readFileSync(path, "utf8"), {});
  const headings: string[] = [];
  const links: MarkdownLink[] = [];
  let line = 0;
  tokens.forEach((token, i) => {
    if (token.map) line = token.map[0] + 1;
    if (token.type === "heading_open") headings.push(plainText(tokens[i + 1]!));
    for (const child of token.children ?? []) {
      const href = child.type === "link_open" ? child.attrGet("href") : child.type === "image" ? child.attrGet("src") : null;
      if (href !== null) links.push({ href: String(href), line });
    }
  });
  return {
    headings,
    links,
    tableAfter(title) {
      const heading = tokens.findIndex((t, i) => t.type === "heading_open" && plainText(tokens[i + 1]!) === title);
      if (heading < 0) throw new Error(`${path} has no heading "${title}"`);
      const start = tokens.findIndex((t, i) => i > heading && t.type === "tbody_open");
      const end = tokens.findIndex((t, i) => i > start && t.type === "tbody_close");
      const rows: string[][] = [];
      for (const t of tokens.slice(start, end)) {
        if (t.type === "tr_open") rows.push([]);
        else if (t.type === "inline") rows[rows.length - 1]!.push(t.content);
      }
      return rows;
    },
  };
}

/** The text of an inline token as rendered: text and code spans, without markup. */
function plainText(inline: Token): string {
  return (inline.children ?? []).map((c) => (c.type === "text" || c.type === "code_inline" ? c.content : "")).join("");
}
