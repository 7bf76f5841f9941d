// Every ```ts (and ```js) block of every README type-checks as a user's project would: strict,
// with Node's own resolution (nodenext) and with a bundler's, against the workspace packages.
import ts from "typescript"
import { describe, expect, it } from "vitest"
import { type Snippet, where, writeSnippets } from "./snippets.js"

const snippets = writeSnippets()

const common: ts.CompilerOptions = {
  strict: true,
  target: ts.ScriptTarget.ES2022,
  lib: ["lib.es2023.d.ts", "lib.dom.d.ts", "lib.dom.iterable.d.ts"],
  types: ["node"],
  noEmit: true,
  skipLibCheck: true,
  allowJs: true,
  checkJs: true,
  // The workspace packages from their sources: no build needed before the check.
  customConditions: ["source"],
}

const settings: Record<string, ts.CompilerOptions> = {
  nodenext: {
    ...common,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  },
  bundler: {
    ...common,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
  },
}

/** One program for all the blocks; the errors found in the blocks, as README:LINE message. */
function check(options: ts.CompilerOptions): string[] {
  const byFile = new Map<string, Snippet>(snippets.map((s) => [s.file, s]))
  const program = ts.createProgram(
    snippets.map((s) => s.file),
    options,
  )
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file !== undefined && byFile.has(d.file.fileName))
    .map((d) => {
      const snippet = byFile.get(d.file!.fileName)!
      const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0)
      return `${where(snippet, line)} ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`
    })
}

describe("README code blocks", () => {
  it("are found: every package's quick start among them", () => {
    const readmes = new Set(snippets.map((s) => s.readme))
    for (const name of [
      "core",
      "express",
      "koa",
      "hono",
      "openfaas",
      "docker",
      "process",
      "redis",
      "kubernetes",
    ]) {
      expect(readmes, name).toContain(`packages/${name}/README.md`)
    }
  })

  for (const [name, options] of Object.entries(settings)) {
    it(`type-check under strict with ${name} resolution`, () => {
      expect(check(options)).toEqual([])
    }, 120_000)
  }
})
