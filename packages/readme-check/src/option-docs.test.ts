// Every option a user can pass has JSDoc (what an editor shows on hover): each property of every
// exported `…Options`, `…Config` and `…Definition` type of every public entry of every published package.
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import ts from "typescript"
import { expect, it } from "vitest"
import { ROOT } from "./snippets.js"

/** The `source` file of each public entry of each published package. */
function publicEntries(): string[] {
  const entries: string[] = []
  for (const name of readdirSync(join(ROOT, "packages"))) {
    const dir = join(ROOT, "packages", name)
    let manifest: { private?: boolean; exports?: Record<string, { source?: string } | string> }
    try {
      manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))
    } catch {
      continue
    }
    if (manifest.private) continue
    for (const target of Object.values(manifest.exports ?? {})) {
      if (typeof target === "object" && target.source) entries.push(join(dir, target.source))
    }
  }
  return entries
}

it("every property of every exported option type has JSDoc", () => {
  const entries = publicEntries()
  expect(entries.length).toBeGreaterThan(10)
  const program = ts.createProgram(entries, {
    strict: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    customConditions: ["source"],
    target: ts.ScriptTarget.ES2022,
    noEmit: true,
    skipLibCheck: true,
  })
  const checker = program.getTypeChecker()
  const undocumented = new Set<string>()
  for (const entry of entries) {
    const file = program.getSourceFile(entry)
    const module = file && checker.getSymbolAtLocation(file)
    if (!module) throw new Error(`${entry}: not found`)
    for (const exported of checker.getExportsOfModule(module)) {
      if (
        !/(Options|Config|Definition)$/.test(exported.name) ||
        exported.name.startsWith("Resolved")
      )
        continue
      const symbol =
        exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported
      if (!(symbol.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias))) continue
      const type = checker.getDeclaredTypeOfSymbol(symbol)
      for (const property of checker.getPropertiesOfType(type)) {
        const doc = ts.displayPartsToString(property.getDocumentationComment(checker)).trim()
        if (doc === "") undocumented.add(`${exported.name}.${property.name}`)
      }
    }
  }
  expect([...undocumented].sort()).toEqual([])
}, 120_000)
