import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    projects: ["{packages,examples}/*/vitest.config.ts", "bench*/vitest.config.ts"],
  },
})
