import { configDefaults, defineProject, mergeConfig } from "vitest/config"
import { sharedProject } from "../../vitest.shared.js"

// native-*.test.ts serve Hono with Deno.serve or Bun.serve: only those runtimes run them. There
// the workerd files stay out (workerd is the runtime under test, not the test driver), and so
// does the WebSocket suite, which is about @hono/node-server's upgrade on Node.
const native = "Deno" in globalThis || "Bun" in globalThis
const excluded = native
  ? ["src/workerd*.test.ts", "src/websocket.test.ts"]
  : ["src/native-*.test.ts"]

export default mergeConfig(
  sharedProject,
  defineProject({
    test: {
      name: "hono",
      exclude: [...configDefaults.exclude, ...excluded],
    },
  }),
)
