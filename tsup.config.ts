import { defineConfig } from "tsup"

// Shared by every package: `tsup --config ../../tsup.config.ts` from the package folder.
export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "es2022",
  outDir: "dist",
})
