import { Cron } from "croner"
import { serviceKey } from "./function-cache.js"
import { checkTarget, getNamespace } from "./names.js"
import { invalidOption, numberOption } from "./options.js"

/**
 * A recurring window in which services are kept up: woken at each start of `cron` (five or six
 * fields, croner's syntax) and kept from idle scale-down for `forMs` after it; idle rules apply
 * again once it ends. `services` (`name` or `name.namespace`) default to every service the gate
 * knows.
 */
export interface KeepWarmWindow {
  /** `"0 8 * * 1-5"`: weekdays at 8:00. */
  cron: string
  /** Milliseconds the window lasts from each start. */
  forMs: number
  /** IANA time zone the cron expression is read in (`Europe/Berlin`). Default: the runtime's. */
  timeZone?: string
  services?: readonly string[]
}

interface Window {
  readonly cron: Cron
  readonly forMs: number
  /** By key; undefined: every service. */
  readonly services: ReadonlyMap<string, { name: string; namespace: string }> | undefined
}

export interface KeepWarm {
  /** True while a window covering the service is open. */
  covers(name: string, namespace: string, now: number): boolean
  /** Wakes the services of every window open now (timers call it at each start; Workers from a Cron Trigger). */
  check(now: number): void
  close(): void
}

/** The longest a timer is set for: longer delays are re-planned on the way (setTimeout's limit). */
const MAX_TIMER_MS = 3_600_000

export function createKeepWarm(
  option: unknown,
  defaultNamespace: string,
  wake: (name: string, namespace: string) => void,
  known: () => Iterable<{ name: string; namespace: string }>,
): KeepWarm | undefined {
  if (option === undefined) return undefined
  if (!Array.isArray(option)) throw invalidOption("keepWarm", "an array of { cron, forMs }", option)
  const windows: Window[] = option.map((entry: KeepWarmWindow, i) => {
    const at = `keepWarm[${i}]`
    if (typeof entry !== "object" || entry === null) {
      throw invalidOption(at, "{ cron, forMs, timeZone?, services? }", entry)
    }
    if (entry.timeZone !== undefined && typeof entry.timeZone !== "string") {
      throw invalidOption(`${at}.timeZone`, "an IANA time zone name", entry.timeZone)
    }
    let cron: Cron
    try {
      cron = new Cron(entry.cron, {
        paused: true,
        ...(entry.timeZone !== undefined && { timezone: entry.timeZone }),
      })
      cron.nextRun() // an unknown time zone shows here
    } catch (error) {
      throw invalidOption(
        `${at}.cron`,
        `a cron expression in a known time zone (${(error as Error).message})`,
        entry.cron,
      )
    }
    const forMs = numberOption(`${at}.forMs`, entry.forMs, Number.NaN, "positive")
    if (Number.isNaN(forMs)) throw invalidOption(`${at}.forMs`, "a positive number", undefined)
    let services: Map<string, { name: string; namespace: string }> | undefined
    if (entry.services !== undefined) {
      if (!Array.isArray(entry.services)) {
        throw invalidOption(`${at}.services`, "an array of service names", entry.services)
      }
      services = new Map()
      for (const full of entry.services) {
        const [name, namespace] = getNamespace(defaultNamespace, String(full))
        if (typeof full !== "string" || checkTarget(name, namespace) !== undefined) {
          throw invalidOption(`${at}.services`, "service names", full)
        }
        services.set(serviceKey(name, namespace), { name, namespace })
      }
    }
    return { cron, forMs, services }
  })

  const open = (window: Window, now: number) => {
    // previousRuns leaves out a run exactly at the reference: a window is open from its start.
    const [start] = window.cron.previousRuns(1, new Date(now + 1))
    return start !== undefined && start.getTime() + window.forMs > now
  }

  let timer: ReturnType<typeof setTimeout> | undefined
  let closed = false
  const plan = () => {
    if (closed) return
    const now = Date.now()
    let soonest = Number.POSITIVE_INFINITY
    for (const window of windows) {
      const next = window.cron.nextRun(new Date(now))
      if (next !== null) soonest = Math.min(soonest, next.getTime())
    }
    if (soonest === Number.POSITIVE_INFINITY) return
    const delay = soonest - now
    try {
      timer = setTimeout(
        () => {
          timer = undefined
          if (delay <= MAX_TIMER_MS) keepWarm.check(Date.now())
          plan()
        },
        Math.min(Math.max(delay, 0), MAX_TIMER_MS),
      )
      ;(timer as { unref?: () => void }).unref?.()
    } catch {
      // No timers outside a request here (Cloudflare Workers' global scope): call
      // gate.checkIdle() from a Cron Trigger instead.
    }
  }

  const keepWarm: KeepWarm = {
    covers(name, namespace, now) {
      for (const window of windows) {
        if (window.services !== undefined && !window.services.has(serviceKey(name, namespace))) {
          continue
        }
        if (open(window, now)) return true
      }
      return false
    },
    check(now) {
      for (const window of windows) {
        if (!open(window, now)) continue
        for (const { name, namespace } of window.services?.values() ?? known()) {
          wake(name, namespace)
        }
      }
    },
    close() {
      closed = true
      clearTimeout(timer)
    },
  }
  keepWarm.check(Date.now())
  plan()
  return keepWarm
}
