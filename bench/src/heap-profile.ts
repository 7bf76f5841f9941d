// A sampling heap profile of this process (V8's HeapProfiler through node:inspector), read as
// the bytes allocated with scale-from-zero's own code on top of the stack: what the warm path
// allocates itself, told apart from the framework's and Node's allocations around it.
import { Session } from "node:inspector"

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number }
  selfSize: number
  children: SamplingNode[]
}

export interface HeapSample {
  /** Bytes sampled in all: an estimate of everything allocated while sampling. */
  totalBytes: number
  /**
   * Bytes sampled with our code's frame on top of the stack, or a frame of Node's own code
   * (`node:…`, or V8's, with no URL) that our code called: what `performance.now()` or
   * `process.hrtime.bigint()` allocates when they are not inlined into our frame is ours.
   */
  oursBytes: number
  /** The part of `oursBytes` in core's frames (the gate, the cache, the clock). */
  coreBytes: number
  /** Our frames that allocated, `function file` (`via` the Node function), with their bytes. */
  ours: Record<string, number>
  /**
   * Bytes sampled with the bare app's middleware (pass-through.ts) on top: what calling the
   * framework's `next` costs the caller's frame (V8 charges some of the callee's work to it).
   */
  passThroughBytes: number
}

const OUR_CODE = /\/packages\/(core|express|koa|hono)\/(src|dist)\//
const CORE_CODE = /\/packages\/core\/(src|dist)\//

/**
 * Starts sampling: on average one allocation per `intervalBytes` is recorded with its stack, so
 * the sampled bytes estimate what was allocated (V8 scales each sample to the interval).
 */
export function startHeapSampling(intervalBytes: number): () => HeapSample {
  const session = new Session()
  session.connect()
  // An in-thread session answers synchronously.
  const post = (method: string, params?: object) => {
    let result: unknown
    session.post(method, params, (error, value) => {
      if (error) throw error
      result = value
    })
    return result
  }
  post("HeapProfiler.enable")
  post("HeapProfiler.startSampling", {
    samplingInterval: intervalBytes,
    // Garbage counts too: the warm path's allocations die young.
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  })
  return () => {
    const { profile } = post("HeapProfiler.stopSampling") as { profile: { head: SamplingNode } }
    session.disconnect()
    const sample: HeapSample = {
      totalBytes: 0,
      oursBytes: 0,
      coreBytes: 0,
      ours: {},
      passThroughBytes: 0,
    }
    const label = (node: SamplingNode) => node.callFrame.functionName || "(anonymous)"
    // `caller`: the nearest frame below that is not Node's or V8's own code.
    const walk = (node: SamplingNode, caller: SamplingNode | undefined) => {
      const { url } = node.callFrame
      const runtime = url === "" || url.startsWith("node:")
      const owner = runtime ? caller : node
      sample.totalBytes += node.selfSize
      if (url.endsWith("/pass-through.ts")) sample.passThroughBytes += node.selfSize
      if (node.selfSize > 0 && owner !== undefined && OUR_CODE.test(owner.callFrame.url)) {
        sample.oursBytes += node.selfSize
        if (CORE_CODE.test(owner.callFrame.url)) sample.coreBytes += node.selfSize
        const file = owner.callFrame.url.replace(/.*\/packages\//, "")
        const name = `${label(owner)} ${file}${runtime ? ` via ${label(node)}` : ""}`
        sample.ours[name] = (sample.ours[name] ?? 0) + node.selfSize
      }
      for (const child of node.children) walk(child, owner)
    }
    walk(profile.head, undefined)
    return sample
  }
}
