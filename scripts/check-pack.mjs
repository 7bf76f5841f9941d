// Checks what a package publishes, not what the repo holds: packs it with pnpm (which applies
// publishConfig, so the tarball's exports point at dist only), then runs publint and attw on
// that tarball. Run from a package folder after its build: `node ../../scripts/check-pack.mjs`.
import { execFileSync } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const run = (command, args, cwd) =>
  execFileSync(command, args, { cwd, stdio: ["ignore", "inherit", "inherit"] })

const folder = mkdtempSync(join(tmpdir(), "sfz-pack-"))
try {
  execFileSync("pnpm", ["pack", "--pack-destination", folder], { stdio: "ignore" })
  const tarball = join(
    folder,
    readdirSync(folder).find((file) => file.endsWith(".tgz")),
  )
  run("tar", ["-xzf", tarball, "-C", folder])
  const packed = join(folder, "package")
  const manifest = JSON.parse(readFileSync(join(packed, "package.json"), "utf8"))
  const leaks = JSON.stringify(manifest.exports ?? {}).match(/"source"|\.\/src\//g)
  if (leaks)
    throw new Error(`${manifest.name}: the packed exports point at src (${leaks.join(", ")})`)
  for (const file of ["LICENSE", "README.md"]) {
    if (!readdirSync(packed).includes(file))
      throw new Error(`${manifest.name}: no ${file} in the tarball`)
  }
  run("publint", ["--strict", "--pack", "false", packed])
  run("attw", [tarball, "--profile", "node16"])
} finally {
  rmSync(folder, { recursive: true, force: true })
}
