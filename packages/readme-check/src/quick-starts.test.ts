// The adapters' quick starts run as a user runs them (Node, the README's code as it stands): the
// cold then warm curl the README promises, the scale endpoint, and its shutdown story.
import { type ChildProcess, spawn } from "node:child_process"
import { writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { eventually } from "@scale-from-zero/test-kit/processes"
import { afterEach, describe, expect, it } from "vitest"
import { extractSnippets, SNIPPETS_DIR, writeSnippets } from "./snippets.js"

writeSnippets()
const running: ChildProcess[] = []
afterEach(() => {
  for (const child of running.splice(0)) child.kill("SIGKILL")
})

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** The first code block after "## Quick start". */
function quickStart(readme: string): string {
  const snippet = extractSnippets(readme).find((s) => s.language === "ts")
  if (!snippet) throw new Error(`${readme}: no quick start`)
  return snippet.code
}

/** Runs `code` (the README's port swapped for a free one) with Node; resolves once it answers. */
async function start(name: string, code: string) {
  const port = await freePort()
  const file = `${SNIPPETS_DIR}/run-${name}.ts`
  writeFileSync(file, code.replaceAll("8080", String(port)))
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", file], {
    cwd: SNIPPETS_DIR,
    stdio: ["ignore", "inherit", "inherit"],
  })
  running.push(child)
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve))
  const base = `http://localhost:${port}`
  await eventually(
    "the quick start listening",
    () =>
      fetch(base).then(
        () => true,
        () => undefined,
      ),
    30_000,
  )
  return { child, base, exited }
}

describe.each(["express", "koa", "hono"])("the %s quick start", (adapter) => {
  const code = quickStart(`packages/${adapter}/README.md`)

  it("holds the first request through the cold start, passes the next at once, takes scale requests, stops on SIGTERM", async () => {
    const app = await start(adapter, code)
    const cold = await fetch(`${app.base}/function/echo/hi`)
    expect(cold.status).toBe(200)
    expect(cold.headers.get("server-timing")).toMatch(/cold-start;dur=\d+/)
    const warm = await fetch(`${app.base}/function/echo/hi`)
    expect(warm.status).toBe(200)
    expect(warm.headers.get("server-timing")).toBeNull()
    const scaled = await fetch(`${app.base}/system/scale-function/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ serviceName: "echo", replicas: 2 }),
    })
    expect(scaled.status).toBe(202)

    app.child.kill("SIGTERM")
    expect(await app.exited).toBe(0)
  }, 60_000)

  it("on SIGTERM answers a held request 503 and ends at once: the backend is closed too", async () => {
    // A start-up far longer than the test: only closing the backend lets the process end.
    expect(code).toContain("startupDelayMs: 1500")
    const app = await start(
      `${adapter}-slow`,
      code.replace("startupDelayMs: 1500", "startupDelayMs: 600_000"),
    )
    const held = fetch(`${app.base}/function/echo/hi`)
    await new Promise((resolve) => setTimeout(resolve, 1000)) // the request reaches the gate
    app.child.kill("SIGTERM")
    const response = await held
    expect(response.status).toBe(503)
    expect(await response.text()).toBe("the gateway is shutting down")
    expect(await app.exited).toBe(0)
  }, 60_000)
})
