// Processes seen through /proc (Linux): whether one still runs, and what a process started.
import { readdirSync, readFileSync } from "node:fs"

/** "pid (comm) STATE PPID ...": comm may hold spaces and parentheses, the rest follows the last ")". */
function readStat(pid: number): { state: string; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const [state = "", ppid = ""] = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return { state, ppid: Number(ppid) }
  } catch {
    return undefined
  }
}

/** True while `pid` runs; a zombie (exited, not yet reaped) counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  if (process.platform !== "linux") return true
  const stat = readStat(pid)
  return stat !== undefined && stat.state !== "Z"
}

/** Every living process below `pid`: its children, theirs, and so on. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync("/proc")) {
    const child = Number(entry)
    if (!Number.isInteger(child)) continue
    const stat = readStat(child)
    if (stat === undefined || stat.state === "Z") continue
    children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), child])
  }
  const found: number[] = []
  const queue = [pid]
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const child of children.get(next) ?? []) {
      found.push(child)
      queue.push(child)
    }
  }
  return found
}

/** Polls `check` every 20 ms until it returns a value other than undefined, for at most `withinMs`. */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  withinMs = 5000,
): Promise<T> {
  const deadline = Date.now() + withinMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`${what}: not within ${withinMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
