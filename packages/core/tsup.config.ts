import { defineConfig } from "tsup"
import shared from "../../tsup.config.js"

// The shared build plus the Node-only bridge, `@scale-from-zero/core/node`.
export default defineConfig({
  ...shared,
  entry: { index: "src/index.ts", "node/index": "src/node/index.ts" },
})
