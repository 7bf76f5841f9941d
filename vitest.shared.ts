import { defineProject } from "vitest/config"

// Tests import workspace packages from source (the "source" export condition): no build needed first.
export const sharedProject = defineProject({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
})
