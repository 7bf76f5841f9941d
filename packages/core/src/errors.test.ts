import { describe, expect, it } from "vitest"
import {
  BackendError,
  ERROR_CODES,
  InvalidServiceNameError,
  OverloadedError,
  ScaleTimeoutError,
  ServiceNotFoundError,
} from "./errors.js"
import { createGate } from "./gate.js"
import type { ServiceQuery } from "./types.js"

const READY = {
  replicas: 1,
  availableReplicas: 1,
  minReplicas: 1,
  maxReplicas: 5,
  scalingFactor: 10,
}
const request = (path: string) => ({ method: "GET", path, headers: new Headers() })

/** A backend that knows only `echo`, throwing `missing(name, namespace)` for any other service. */
function backend(missing: (name: string, namespace: string) => unknown) {
  const calls = { getReplicas: 0 }
  const serviceQuery: ServiceQuery = {
    async getReplicas(name, namespace) {
      calls.getReplicas++
      if (name === "echo") return READY
      throw missing(name, namespace)
    },
    async setReplicas() {},
  }
  return { serviceQuery, calls }
}

/** Admits and waits as an adapter does; returns the reply's status, or "pass". */
async function answer(gate: ReturnType<typeof createGate>, path: string) {
  const verdict = gate.admit(request(path))
  const outcome =
    verdict.kind === "hold" ? await gate.wait(verdict, new AbortController().signal) : verdict
  return outcome.kind === "reply" ? outcome.status : outcome.kind
}

describe("errors are recognised by code, never by instanceof", () => {
  it("every core error carries its stable code", () => {
    expect(new ServiceNotFoundError("a", "b").code).toBe("ERR_SERVICE_NOT_FOUND")
    expect(new ScaleTimeoutError("a", "b", 1).code).toBe("ERR_SCALE_TIMEOUT")
    expect(new OverloadedError("a", "b", 1, "gateway").code).toBe("ERR_OVERLOADED")
    expect(new InvalidServiceNameError("a", "name", "why").code).toBe("ERR_INVALID_SERVICE_NAME")
    const backendError = new BackendError("refused", { endpoint: "http://x", status: 503 })
    expect(backendError).toMatchObject({
      code: ERROR_CODES.backend,
      endpoint: "http://x",
      status: 503,
    })
  })

  it("a not-found from a second installed copy of core still answers 404 and is remembered", async () => {
    // The same source loaded again as a separate module: what two installed copies of core are.
    const secondCopyPath = "./errors.js?second-copy"
    const second = (await import(/* @vite-ignore */ secondCopyPath)) as typeof import("./errors.js")
    const foreign = new second.ServiceNotFoundError("ghost", "openfaas-fn")
    expect(foreign instanceof ServiceNotFoundError, "the copies must be distinct").toBe(false)

    const { serviceQuery, calls } = backend(
      (name, namespace) => new second.ServiceNotFoundError(name, namespace),
    )
    const gate = createGate({ serviceQuery, notFoundExpiry: 60_000 })
    try {
      expect(await answer(gate, "/function/ghost")).toBe(404)
      expect(await answer(gate, "/function/ghost")).toBe(404)
      expect(calls.getReplicas, "the second request must hit the negative cache").toBe(1)
      expect(await answer(gate, "/function/echo")).toBe("pass")
    } finally {
      gate.close()
    }
  })

  it("a plain Error whose code is ERR_SERVICE_NOT_FOUND counts as not found; any other error is a backend error", async () => {
    const plain = backend(() =>
      Object.assign(new Error("no such function"), { code: "ERR_SERVICE_NOT_FOUND" }),
    )
    const coded = createGate({ serviceQuery: plain.serviceQuery, notFoundExpiry: 60_000 })
    const other = createGate({ serviceQuery: backend(() => new Error("boom")).serviceQuery })
    try {
      expect(await answer(coded, "/function/ghost")).toBe(404)
      expect(coded.scaler.isKnownMissing("ghost", "openfaas-fn")).toBe(true)
      expect(await answer(other, "/function/ghost")).toBe(502)
    } finally {
      coded.close()
      other.close()
    }
  })

  it("scale() names each outcome", async () => {
    const hanging: ServiceQuery = {
      getReplicas: (name, _namespace, options) =>
        name === "slow"
          ? new Promise((_, reject) =>
              options?.signal?.addEventListener("abort", () => reject(options.signal?.reason)),
            )
          : name === "echo"
            ? Promise.resolve(READY)
            : name === "broken"
              ? Promise.reject(new Error("boom"))
              : Promise.reject(new ServiceNotFoundError(name, "openfaas-fn")),
      setReplicas: async () => {},
    }
    const gate = createGate({ serviceQuery: hanging, timeout: 50 })
    const { scaler } = gate
    try {
      expect((await scaler.scale("echo", "openfaas-fn")).outcome).toBe("ready")
      expect((await scaler.scale("ghost", "openfaas-fn")).outcome).toBe("not-found")
      expect((await scaler.scale("broken", "openfaas-fn")).outcome).toBe("backend-error")
      expect((await scaler.scale("slow", "openfaas-fn")).outcome).toBe("timeout")
      const left = scaler.scale("slow", "openfaas-fn", { signal: AbortSignal.abort() })
      expect((await left).outcome).toBe("aborted")
    } finally {
      gate.close()
    }
  })
})
