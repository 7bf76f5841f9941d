import { defineConfig } from "tsup"
import shared from "../../tsup.config.js"

// The shared build plus the subpath entries: /node, /web, /provider, /testing.
export default defineConfig({
  ...shared,
  entry: {
    index: "src/index.ts",
    "node/index": "src/node/index.ts",
    "web/index": "src/web/index.ts",
    "provider/index": "src/provider/index.ts",
    "testing/index": "src/testing/index.ts",
  },
})
