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
  /** Bytes sampled with our code's frame on top of the stack. */
  oursBytes: number
  /** Our frames that allocated, `function file`, with their bytes. */
  ours: Record<string, number>
  /**
   * Bytes sampled with the bare app's middleware (pass-through.ts) on top: what calling the
   * framework's `next` costs the caller's frame (V8 charges some of the callee's work to it).
   */
  passThroughBytes: number
}

const OUR_CODE = /\/packages\/(core|express|koa|hono)\/(src|dist)\//

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
    const sample: HeapSample = { totalBytes: 0, oursBytes: 0, ours: {}, passThroughBytes: 0 }
    const walk = (node: SamplingNode) => {
      sample.totalBytes += node.selfSize
      if (node.callFrame.url.endsWith("/pass-through.ts")) sample.passThroughBytes += node.selfSize
      if (node.selfSize > 0 && OUR_CODE.test(node.callFrame.url)) {
        sample.oursBytes += node.selfSize
        const name = `${node.callFrame.functionName || "(anonymous)"} ${node.callFrame.url.replace(/.*\/packages\//, "")}`
        sample.ours[name] = (sample.ours[name] ?? 0) + node.selfSize
      }
      for (const child of node.children) walk(child)
    }
    walk(profile.head)
    return sample
  }
}
