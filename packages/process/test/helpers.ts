import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type { ServiceQueryResponse } from "@scale-from-zero/core"
import { afterEach, expect } from "vitest"
import {
  createProcessServiceQuery,
  type ProcessEvent,
  type ProcessServiceDefinition,
  type ProcessServiceQuery,
  type ProcessServiceQueryOptions,
  shutdownHooksInstalled,
} from "../src/index.js"

/** The tiny HTTP server every test replica runs (see its header for the knobs). */
export const SERVER = fileURLToPath(new URL("./fixtures/server.mjs", import.meta.url))

export function serverService(
  env: Record<string, string> = {},
  definition: Omit<ProcessServiceDefinition, "command"> = {},
): ProcessServiceDefinition {
  return { command: process.execPath, args: [SERVER], env, ...definition }
}

/** True while `pid` runs; a zombie (exited, not yet reaped) counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    // /proc/PID/stat: "pid (comm) STATE ..."; comm may hold spaces, the state follows the last ")".
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z"
  } catch {
    return process.platform !== "linux"
  }
}

/** Polls `check` until it returns a value other than undefined, for at most `withinMs`. */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  withinMs = 5000,
): Promise<T> {
  const deadline = Date.now() + withinMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`${what}: not within ${withinMs}ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * Resolves with the first status that satisfies `done`, within `withinMs`: the current one,
 * or one that `watch` pushes later (subscribed first, so no change falls between).
 */
export function until(
  query: ProcessServiceQuery,
  name: string,
  done: (status: ServiceQueryResponse) => boolean,
  withinMs = 5000,
): Promise<ServiceQueryResponse> {
  return new Promise((resolve, reject) => {
    const subscription = new AbortController()
    const timer = setTimeout(() => {
      subscription.abort()
      reject(new Error(`${name}: watch pushed no matching status within ${withinMs}ms`))
    }, withinMs)
    query.watch(
      name,
      query.namespace,
      (status) => {
        if (!done(status)) return
        clearTimeout(timer)
        subscription.abort()
        resolve(status)
      },
      { signal: subscription.signal },
    )
    query.getReplicas(name, query.namespace).then((status) => {
      if (!done(status) || subscription.signal.aborted) return
      clearTimeout(timer)
      subscription.abort()
      resolve(status)
    }, reject)
  })
}

export async function getJson(
  url: string,
): Promise<{ pid: number; port: number; grandchild?: number }> {
  const response = await fetch(url)
  return (await response.json()) as { pid: number; port: number; grandchild?: number }
}

/**
 * Queries that each test's teardown closes, checking that every child they started is gone
 * and the process hooks are removed. Call once per test file, at its top level.
 */
export function closingQueries() {
  const open: ProcessServiceQuery[] = []
  const pids: number[] = []

  afterEach(async () => {
    await Promise.all(open.splice(0).map((query) => query.close()))
    for (const pid of pids.splice(0)) expect(isAlive(pid), `pid ${pid}`).toBe(false)
    expect(shutdownHooksInstalled()).toBe(false)
  })

  /** A query closed after the test; its events (with their time) are collected in `events`. */
  const start = (options: ProcessServiceQueryOptions) => {
    const events: (ProcessEvent & { at: number })[] = []
    const query = createProcessServiceQuery({
      stdio: "ignore",
      ...options,
      onEvent: (event) => {
        events.push({ ...event, at: Date.now() })
        if (event.type === "spawn") pids.push(event.pid)
      },
    })
    open.push(query)
    return { query, events }
  }
  return { start, track: (query: ProcessServiceQuery) => void open.push(query) }
}
