import { DependencyError } from "./errors.js"
import { serviceKey } from "./function-cache.js"
import type { FunctionScaler, Prerequisites } from "./function-scaler.js"
import { LruMap } from "./lru.js"
import { checkTarget, getNamespace } from "./names.js"
import { invalidOption } from "./options.js"
import type { ServiceQueryResponse } from "./types.js"

/** A service's label listing the services it needs, comma-separated: `db, cache.other-ns`. */
export const DEPENDS_ON_LABEL = "scale-from-zero.depends-on"
/** `true`: scale the service up together with its dependencies, not after them. */
export const PARALLEL_LABEL = "scale-from-zero.parallel"

/**
 * What a service needs running before it: `name` (in the service's own namespace) or
 * `name.namespace`. The object form with `parallel: true` scales the service up at once,
 * beside them (for a service that retries its connections); a held request still waits for
 * all of them.
 */
export type DependencySpec =
  | readonly string[]
  | { readonly services: readonly string[]; readonly parallel?: boolean }

/** By service, `name` (in the gate's default namespace) or `name.namespace`. */
export type Dependencies = Readonly<Record<string, DependencySpec>>

interface Target {
  readonly name: string
  readonly namespace: string
  readonly key: string
}

interface Needs {
  readonly targets: readonly Target[]
  readonly parallel: boolean
}

const MAX_LABELLED = 10_000
const NONE: Needs = { targets: [], parallel: false }

export interface DependencyGraph {
  /** The scaler's hook: wakes what a waking service needs. */
  readonly prerequisites: Prerequisites | undefined
  /** True while a service that needs this one is up, waking, or about to be. */
  dependentsUp(name: string, namespace: string): boolean
}

function target(fullName: string, namespace: string, option: string): Target {
  const [name, ns] = getNamespace(namespace, fullName.trim())
  const invalid = checkTarget(name, ns)
  if (invalid !== undefined) throw invalidOption(option, "service names", fullName)
  return { name, namespace: ns, key: serviceKey(name, ns) }
}

function parseSpec(spec: unknown, namespace: string, option: string): Needs {
  const list = Array.isArray(spec) ? spec : (spec as { services?: unknown } | null)?.services
  const parallel = Array.isArray(spec) ? false : (spec as { parallel?: unknown }).parallel
  if (!Array.isArray(list) || (parallel !== undefined && typeof parallel !== "boolean")) {
    throw invalidOption(option, "an array of services or { services, parallel? }", spec)
  }
  return {
    targets: list.map((entry: unknown) => {
      if (typeof entry !== "string") throw invalidOption(option, "service names", entry)
      return target(entry, namespace, option)
    }),
    parallel: parallel === true,
  }
}

/** The first cycle through `start`, as `a.ns → b.ns → a.ns`, or undefined. */
function cycleThrough(
  start: string,
  edges: (key: string) => readonly Target[],
): string | undefined {
  const path: string[] = []
  const seen = new Set<string>()
  const visit = (key: string): boolean => {
    path.push(key)
    for (const next of edges(key)) {
      if (next.key === start) {
        path.push(start)
        return true
      }
      if (!seen.has(next.key)) {
        seen.add(next.key)
        if (visit(next.key)) return true
      }
    }
    path.pop()
    return false
  }
  return visit(start) ? path.join(" → ") : undefined
}

/**
 * Dependencies from the `dependencies` option (checked now, cycles included) and from each
 * service's `scale-from-zero.depends-on` label (checked when first read). A waking service
 * wakes what it needs first (independent ones in parallel, each through its own shared wake,
 * so a diamond wakes its base once), then is scaled up.
 */
export function createDependencyGraph(
  option: unknown,
  defaultNamespace: string,
  scaler: () => FunctionScaler,
  woke: (name: string, namespace: string) => void,
): DependencyGraph {
  if (
    option !== undefined &&
    (typeof option !== "object" || option === null || Array.isArray(option))
  ) {
    throw invalidOption("dependencies", "an object { service: [dependencies] }", option)
  }
  const configured = new Map<string, Needs>()
  const owners: Target[] = []
  for (const [service, spec] of Object.entries((option ?? {}) as Dependencies)) {
    const name = `dependencies[${JSON.stringify(service)}]`
    const owner = target(service, defaultNamespace, name)
    owners.push(owner)
    configured.set(owner.key, parseSpec(spec, owner.namespace, name))
  }
  // Labels as last read, by service, with the text they were parsed from.
  const labelled = new LruMap<string, { text: string; needs: Needs }>(MAX_LABELLED)
  const dependents = new Map<string, Map<string, Target>>()
  const addDependents = (owner: Target, needs: Needs) => {
    for (const needed of needs.targets) {
      const set = dependents.get(needed.key) ?? new Map<string, Target>()
      dependents.set(needed.key, set)
      set.set(owner.key, owner)
    }
  }
  const edges = (key: string) =>
    configured.get(key)?.targets ?? labelled.peek(key)?.needs.targets ?? []
  for (const owner of owners) {
    const cycle = cycleThrough(owner.key, edges)
    if (cycle !== undefined) throw new DependencyError(`dependency cycle: ${cycle}`)
    addDependents(owner, configured.get(owner.key) ?? NONE)
  }

  const needsOf = (owner: Target, status: ServiceQueryResponse): Needs => {
    const fromOption = configured.get(owner.key)
    if (fromOption !== undefined) return fromOption
    const text = status.labels?.[DEPENDS_ON_LABEL]
    if (text === undefined || text.trim() === "") return NONE
    const parallelText = status.labels?.[PARALLEL_LABEL]
    const known = labelled.get(owner.key)
    if (known !== undefined && known.text === `${text}|${parallelText}`) return known.needs
    let needs: Needs
    try {
      needs = {
        targets: text.split(",").map((entry) => target(entry, owner.namespace, DEPENDS_ON_LABEL)),
        parallel: parallelText?.trim().toLowerCase() === "true",
      }
    } catch {
      throw new DependencyError(
        `${owner.key}'s label ${DEPENDS_ON_LABEL} must list service names, got ${JSON.stringify(text)}`,
      )
    }
    labelled.set(owner.key, { text: `${text}|${parallelText}`, needs })
    const cycle = cycleThrough(owner.key, edges)
    if (cycle !== undefined) {
      labelled.delete(owner.key)
      throw new DependencyError(`dependency cycle: ${cycle}`)
    }
    addDependents(owner, needs)
    return needs
  }

  const wakeOne = async (owner: string, needed: Target, signal: AbortSignal) => {
    const result = await scaler().scale(needed.name, needed.namespace, { signal })
    if (result.outcome === "ready") {
      woke(needed.name, needed.namespace)
      return
    }
    if (result.outcome === "aborted") throw result.error
    throw new DependencyError(
      result.outcome === "not-found"
        ? `${owner} depends on ${needed.key}, which the backend does not know`
        : `${owner} depends on ${needed.key}, which did not start: ${result.error?.message ?? result.outcome}`,
      { cause: result.error },
    )
  }

  const prerequisites: Prerequisites = (name, namespace, status, signal) => {
    const owner = { name, namespace, key: serviceKey(name, namespace) }
    let needs: Needs
    try {
      needs = needsOf(owner, status)
    } catch (error) {
      return { ready: Promise.reject(error), parallel: false }
    }
    if (needs.targets.length === 0) return undefined
    const ready = Promise.all(needs.targets.map((needed) => wakeOne(owner.key, needed, signal)))
    return { ready: ready.then(() => {}), parallel: needs.parallel }
  }

  return {
    prerequisites,
    dependentsUp(name, namespace) {
      const set = dependents.get(serviceKey(name, namespace))
      if (set === undefined) return false
      const scalerNow = scaler()
      for (const dependent of set.values()) {
        const status = scalerNow.peek(dependent.name, dependent.namespace)
        if (
          (status !== undefined && status.replicas > 0) ||
          scalerNow.waiting(dependent.name, dependent.namespace) > 0
        ) {
          return true
        }
      }
      return false
    },
  }
}
