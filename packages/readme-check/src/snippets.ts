// The code blocks of every README in the repository, written out as files a compiler can read.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"

export const ROOT = fileURLToPath(new URL("../../..", import.meta.url))
/** Inside this package, so the snippets resolve its dependencies: every workspace package. */
export const SNIPPETS_DIR = fileURLToPath(new URL("../.snippets", import.meta.url))

export interface Snippet {
  /** The README, relative to the repository root. */
  readme: string
  /** Line of the README where the code starts (after the fence). */
  line: number
  language: "ts" | "js"
  code: string
  /** The file it is written to. */
  file: string
}

/** README.md at the root and in every package and example. */
export function readmes(): string[] {
  const found = ["README.md"]
  for (const folder of ["packages", "examples"]) {
    for (const entry of readdirSync(join(ROOT, folder), { withFileTypes: true })) {
      if (!entry.isDirectory()) continue
      const readme = join(folder, entry.name, "README.md")
      try {
        readFileSync(join(ROOT, readme))
        found.push(readme)
      } catch {}
    }
  }
  return found
}

/** Every ```ts and ```js block of `readme`. */
export function extractSnippets(readme: string): Omit<Snippet, "file">[] {
  const lines = readFileSync(join(ROOT, readme), "utf8").split("\n")
  const snippets: Omit<Snippet, "file">[] = []
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(ts|js)\s*$/.exec(lines[i] ?? "")
    if (!fence) continue
    const start = i + 1
    let end = start
    while (end < lines.length && !(lines[end] ?? "").startsWith("```")) end++
    snippets.push({
      readme,
      line: start + 1,
      language: fence[1] as "ts" | "js",
      code: lines.slice(start, end).join("\n"),
    })
    i = end
  }
  return snippets
}

/** Writes every snippet of every README to SNIPPETS_DIR, one module each. */
export function writeSnippets(): Snippet[] {
  rmSync(SNIPPETS_DIR, { recursive: true, force: true })
  mkdirSync(SNIPPETS_DIR, { recursive: true })
  return readmes().flatMap((readme) =>
    extractSnippets(readme).map((snippet) => {
      const name = `${readme.replace(/\/?README\.md$/, "").replace(/\//g, "-") || "root"}-L${snippet.line}`
      const file = join(SNIPPETS_DIR, `${name}.${snippet.language === "ts" ? "ts" : "mjs"}`)
      // `export {}`: each block is a module of its own, whether it imports anything or not.
      writeFileSync(file, `${snippet.code}\nexport {}\n`)
      return { ...snippet, file }
    }),
  )
}

/** `README.md:LINE` for a line of a snippet's file. */
export function where(snippet: Snippet, fileLine: number): string {
  return `${relative(ROOT, join(ROOT, snippet.readme))}:${snippet.line + fileLine}`
}
