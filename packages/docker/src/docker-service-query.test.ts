import { rmSync } from "node:fs"
import { connect, createServer, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ServiceNotFoundError, type ServiceQueryResponse } from "@scale-from-zero/core"
import type { WatchErrorContext } from "@scale-from-zero/core/provider"
import {
  containerState,
  createContainer,
  freePort,
  healthNudger,
  PODMAN_SOCKET,
  removeContainers,
  requireEngine,
  runHealthcheck,
  startSpareService,
  uniqueName,
} from "@scale-from-zero/test-kit/podman"
import { afterAll, describe, expect, it } from "vitest"
import {
  createDockerServiceQuery,
  type DockerServiceQuery,
  NAMESPACE_LABEL,
  SERVICE_LABEL,
} from "./docker-service-query.js"
import { DockerEngineError } from "./engine.js"

const skipReason = await requireEngine()

/**
 * A unix-socket proxy to the engine that sees the query's event streams (requests for
 * `/events`) and can cut them and refuse to re-open them, while every other call goes through.
 */
async function startEngineProxy() {
  const socketPath = join(tmpdir(), `${uniqueName("proxy")}.sock`)
  interface Pair {
    client: Socket
    upstream: Socket
    /** This connection carries an event stream, and the engine has answered it. */
    events: boolean
    answered: boolean
  }
  const pairs = new Set<Pair>()
  let blocked = false
  let eventRequests = 0
  const server = createServer((client) => {
    const pair: Pair = { client, upstream: connect(PODMAN_SOCKET), events: false, answered: false }
    pairs.add(pair)
    const end = () => {
      pairs.delete(pair)
      client.destroy()
      pair.upstream.destroy()
    }
    client.on("data", (chunk: Buffer) => {
      if (chunk.toString("latin1").includes("/events?")) {
        eventRequests++
        if (blocked) return end()
        pair.events = true
      }
      pair.upstream.write(chunk)
    })
    pair.upstream.on("data", (chunk: Buffer) => {
      pair.answered = pair.events
      client.write(chunk)
    })
    for (const socket of [client, pair.upstream]) {
      socket.on("close", end)
      socket.on("error", end)
    }
  })
  await new Promise<void>((resolve) => server.listen(socketPath, resolve))
  return {
    socketPath,
    /** Requests for an event stream so far, refused ones included. */
    get eventRequests() {
      return eventRequests
    },
    /** Event streams the engine has answered and that are still open. */
    get openEventStreams() {
      return [...pairs].filter((pair) => pair.events && pair.answered).length
    },
    blockEvents(block: boolean) {
      blocked = block
      if (block) for (const pair of pairs) if (pair.events) pair.client.destroy()
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const { client } of pairs) client.destroy()
        server.close(() => {
          rmSync(socketPath, { force: true })
          resolve()
        })
      }),
  }
}

/** Resolves with the first pushed status that satisfies `ready`, or rejects after `ms`. */
function watchUntil(
  query: DockerServiceQuery,
  name: string,
  namespace: string,
  ready: (status: ServiceQueryResponse) => boolean,
  ms: number,
  signal: AbortSignal,
): Promise<ServiceQueryResponse> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no matching push within ${ms}ms`)), ms)
    query.watch?.(
      name,
      namespace,
      (status) => {
        if (!ready(status)) return
        clearTimeout(timer)
        resolve(status)
      },
      { signal },
    )
  })
}

describe.skipIf(skipReason !== undefined)("createDockerServiceQuery on a real engine", () => {
  const created: string[] = []
  const queries: DockerServiceQuery[] = []
  const newQuery = (options: Parameters<typeof createDockerServiceQuery>[0] = {}) => {
    const query = createDockerServiceQuery({
      socketPath: PODMAN_SOCKET,
      stopTimeoutSeconds: 2,
      ...options,
    })
    queries.push(query)
    return query
  }
  const container = async (
    service: string,
    extra: Partial<Parameters<typeof createContainer>[0]> = {},
  ) => {
    const name = extra.name ?? uniqueName(service)
    created.push(name)
    await createContainer({
      name,
      port: await freePort(),
      ...extra,
      labels: { [SERVICE_LABEL]: service, ...extra.labels },
    })
    return name
  }

  const proxies: Awaited<ReturnType<typeof startEngineProxy>>[] = []
  const newProxy = async () => {
    const proxy = await startEngineProxy()
    proxies.push(proxy)
    return proxy
  }

  afterAll(async () => {
    await Promise.all(queries.map((query) => query.close()))
    await Promise.all(proxies.map((proxy) => proxy.close()))
    await removeContainers(created)
  })

  it("throws ServiceNotFoundError for a service no container carries, or not in that namespace", async () => {
    const query = newQuery()
    const service = uniqueName("missing")
    await expect(query.getReplicas(service, "default")).rejects.toBeInstanceOf(ServiceNotFoundError)
    await container(service, { labels: { [NAMESPACE_LABEL]: "team-a" } })
    await expect(query.getReplicas(service, "default")).rejects.toBeInstanceOf(ServiceNotFoundError)
    await expect(query.setReplicas(service, "default", 1)).rejects.toBeInstanceOf(
      ServiceNotFoundError,
    )
    expect((await query.getReplicas(service, "team-a")).replicas).toBe(0)
  })

  it("places containers without a namespace label in defaultNamespace", async () => {
    const service = uniqueName("plain")
    await container(service)
    expect((await newQuery().getReplicas(service, "default")).replicas).toBe(0)
    expect(
      (await newQuery({ defaultNamespace: "apps" }).getReplicas(service, "apps")).replicas,
    ).toBe(0)
    await expect(newQuery().getReplicas(service, "apps")).rejects.toBeInstanceOf(
      ServiceNotFoundError,
    )
  })

  it("reads the scale labels and starts and stops the service's container", async () => {
    const query = newQuery()
    const service = uniqueName("web")
    const name = await container(service, {
      labels: {
        "com.openfaas.scale.min": "1",
        "com.openfaas.scale.max": "3",
        "com.openfaas.scale.zero": "true",
        "com.openfaas.scale.zero-duration": "30s",
      },
    })
    const cold = await query.getReplicas(service, "default")
    expect(cold).toMatchObject({
      replicas: 0,
      availableReplicas: 0,
      minReplicas: 1,
      maxReplicas: 3,
    })
    expect(cold.labels).toMatchObject({
      "com.openfaas.scale.zero": "true",
      "com.openfaas.scale.zero-duration": "30s",
    })

    let started = performance.now()
    await query.setReplicas(service, "default", 1)
    const startMs = performance.now() - started
    expect(await containerState(name)).toBe("running")
    expect(await query.getReplicas(service, "default")).toMatchObject({
      replicas: 1,
      availableReplicas: 1,
    })

    started = performance.now()
    await query.setReplicas(service, "default", 0)
    const stopMs = performance.now() - started
    expect(await containerState(name)).toBe("exited")
    expect(await query.getReplicas(service, "default")).toMatchObject({
      replicas: 0,
      availableReplicas: 0,
    })
    console.info(
      `podman: setReplicas(1) ${startMs.toFixed(0)}ms, setReplicas(0) ${stopMs.toFixed(0)}ms`,
    )
  })

  it("starts stopped containers up to the count and stops the surplus, in name order", async () => {
    const query = newQuery()
    const service = uniqueName("multi")
    const prefix = uniqueName("multi")
    const names = await Promise.all(
      ["a", "b", "c"].map((suffix) => container(service, { name: `${prefix}-${suffix}` })),
    )
    const states = () => Promise.all(names.map(containerState))

    await query.setReplicas(service, "default", 2)
    expect(await states()).toEqual(["running", "running", "created"])
    expect((await query.getReplicas(service, "default")).replicas).toBe(2)

    await query.setReplicas(service, "default", 5) // only three containers exist
    expect(await states()).toEqual(["running", "running", "running"])

    await query.setReplicas(service, "default", 1)
    expect(await states()).toEqual(["running", "exited", "exited"])
    await query.setReplicas(service, "default", 0)
    expect(await states()).toEqual(["exited", "exited", "exited"])
    await expect(query.setReplicas(service, "default", -1)).rejects.toBeInstanceOf(RangeError)
  })

  it("counts a running container as available only once its healthcheck passes", async () => {
    const query = newQuery()
    const service = uniqueName("healthy")
    const port = await freePort()
    const name = await container(service, {
      port,
      healthcheck: ["wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${port}/`],
    })
    await query.setReplicas(service, "default", 1)
    // Podman runs no healthcheck on its own here: the container stays "starting".
    expect(await query.getReplicas(service, "default")).toMatchObject({
      replicas: 1,
      availableReplicas: 0,
    })
    const deadline = Date.now() + 10_000
    while (!(await runHealthcheck(name)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(await query.getReplicas(service, "default")).toMatchObject({
      replicas: 1,
      availableReplicas: 1,
    })
  })

  it("reports a container whose healthcheck fails as running but not available", async () => {
    const query = newQuery()
    const service = uniqueName("sick")
    const name = await container(service, { healthcheck: ["false"] })
    await query.setReplicas(service, "default", 1)
    expect(await runHealthcheck(name)).toBe(false)
    expect(await runHealthcheck(name)).toBe(false)
    expect(await query.getReplicas(service, "default")).toMatchObject({
      replicas: 1,
      availableReplicas: 0,
    })
  })

  it("pushes readiness from one shared event stream, then closes it when no one watches", async () => {
    const proxy = await newProxy()
    // A poll interval no test waits out: only events can deliver in time.
    const query = newQuery({ socketPath: proxy.socketPath, pollIntervalMs: 60_000 })
    const web = uniqueName("pushed")
    const api = uniqueName("pushed")
    await Promise.all([container(web), container(api)])
    const controller = new AbortController()
    const ready = (service: string) =>
      watchUntil(
        query,
        service,
        "default",
        (s) => s.availableReplicas > 0,
        10_000,
        controller.signal,
      )
    const webReady = ready(web)
    const apiReady = ready(api)
    expect(query.activeWatches).toBe(2)
    await expect.poll(() => proxy.openEventStreams).toBe(1)

    const other = newQuery()
    const started = performance.now()
    await other.setReplicas(web, "default", 1)
    expect((await webReady).availableReplicas).toBe(1)
    const pushMs = performance.now() - started
    await other.setReplicas(api, "default", 1)
    expect(await apiReady).toMatchObject({ replicas: 1, availableReplicas: 1 })
    expect(proxy.eventRequests).toBe(1)
    console.info(`podman: start to watch push ${pushMs.toFixed(0)}ms`)

    controller.abort()
    expect(query.activeWatches).toBe(0)
    await expect.poll(() => proxy.openEventStreams).toBe(0)
  })

  it("ends every watch and the event stream on close, pushing nothing after", async () => {
    const proxy = await newProxy()
    const query = newQuery({ socketPath: proxy.socketPath })
    const service = uniqueName("closed")
    await container(service)
    const pushes: ServiceQueryResponse[] = []
    query.watch?.(service, "default", (status) => pushes.push(status))
    query.watch?.(service, "default", (status) => pushes.push(status), {
      signal: new AbortController().signal,
    })
    await expect.poll(() => proxy.openEventStreams).toBe(1)
    await query.close()
    const before = pushes.length
    expect(query.activeWatches).toBe(0)
    await expect.poll(() => proxy.openEventStreams).toBe(0)
    query.watch?.(service, "default", (status) => pushes.push(status))
    expect(query.activeWatches).toBe(0) // a closed query takes no new watch
    const other = newQuery()
    await other.setReplicas(service, "default", 1)
    await expect
      .poll(async () => (await other.getReplicas(service, "default")).availableReplicas)
      .toBe(1)
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(pushes).toHaveLength(before)
    expect(proxy.eventRequests).toBe(1)
  })

  it("pushes a running container turning healthy, and never a failing one", async () => {
    const query = newQuery()
    const service = uniqueName("turning")
    const sick = uniqueName("failing")
    const port = await freePort()
    await container(service, {
      port,
      healthcheck: ["wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${port}/`],
    })
    await container(sick, { healthcheck: ["false"] })
    await Promise.all([
      query.setReplicas(service, "default", 1),
      query.setReplicas(sick, "default", 1),
    ])
    const controller = new AbortController()
    const sickPushes: ServiceQueryResponse[] = []
    query.watch?.(sick, "default", (status) => sickPushes.push(status), {
      signal: controller.signal,
    })
    const healthy = watchUntil(
      query,
      service,
      "default",
      (s) => s.availableReplicas > 0,
      10_000,
      controller.signal,
    )
    const nudgers = [
      healthNudger(`${SERVICE_LABEL}=${service}`),
      healthNudger(`${SERVICE_LABEL}=${sick}`),
    ]
    try {
      const started = performance.now()
      expect(await healthy).toMatchObject({ replicas: 1, availableReplicas: 1 })
      console.info(
        `podman: healthcheck nudges to healthy push ${(performance.now() - started).toFixed(0)}ms`,
      )
      await new Promise((resolve) => setTimeout(resolve, 500))
    } finally {
      await Promise.all(nudgers.map((nudger) => nudger.stop()))
      controller.abort()
    }
    expect(sickPushes.length).toBeGreaterThan(0)
    for (const status of sickPushes)
      expect(status).toMatchObject({ replicas: 1, availableReplicas: 0 })
  })

  it("falls back to polling while the event stream is cut, tells onWatchError, and re-opens it", async () => {
    const proxy = await newProxy()
    const reports: { error: Error; context: WatchErrorContext }[] = []
    const query = newQuery({
      socketPath: proxy.socketPath,
      pollIntervalMs: 200,
      onWatchError: (error, context) => reports.push({ error, context }),
    })
    const service = uniqueName("cut")
    await container(service)
    const controller = new AbortController()
    const ready = watchUntil(
      query,
      service,
      "default",
      (s) => s.availableReplicas > 0,
      5_000,
      controller.signal,
    )
    await expect.poll(() => proxy.openEventStreams).toBe(1)
    expect(reports).toEqual([])

    proxy.blockEvents(true)
    await expect.poll(() => reports.length).toBeGreaterThan(0)
    expect(reports[0]?.context).toEqual({ namespace: "default", source: "changes" })
    expect(reports[0]?.error).toBeInstanceOf(DockerEngineError)
    expect(reports[0]?.error.message).toContain(`unix://${proxy.socketPath}`)
    await newQuery().setReplicas(service, "default", 1)
    expect(await ready).toMatchObject({ replicas: 1, availableReplicas: 1 })
    expect(proxy.openEventStreams).toBe(0) // delivered by polling
    await expect.poll(() => proxy.eventRequests).toBeGreaterThan(1) // and re-opening is tried
    expect(reports.every(({ context }) => context.source === "changes")).toBe(true)

    proxy.blockEvents(false)
    await expect.poll(() => proxy.openEventStreams, { timeout: 8_000 }).toBe(1)
    controller.abort()
    await expect.poll(() => proxy.openEventStreams).toBe(0)
  })

  it("reaches the engine over TCP with host and port", async () => {
    const port = await freePort()
    const spare = await startSpareService({ port })
    try {
      const service = uniqueName("tcp")
      await container(service)
      const query = newQuery({ host: "127.0.0.1", port })
      expect(query.endpoint).toBe(`http://127.0.0.1:${port}`)
      await query.setReplicas(service, "default", 1)
      expect((await query.getReplicas(service, "default")).availableReplicas).toBe(1)
      await query.setReplicas(service, "default", 0)
    } finally {
      await spare.kill()
    }
  })

  it("reports an engine stopped while a service is watched through onError, naming the socket", async () => {
    const spare = await startSpareService("unix")
    try {
      const service = uniqueName("orphan")
      await container(service, { healthcheck: ["false"] })
      const query = newQuery({ socketPath: spare.socketPath!, pollIntervalMs: 100 })
      await query.setReplicas(service, "default", 1)
      const controller = new AbortController()
      let pushes = 0
      const failed = new Promise<Error>((resolve) =>
        query.watch?.(service, "default", () => pushes++, {
          signal: controller.signal,
          onError: resolve,
        }),
      )
      // The first push is the read made once the event stream is up.
      await expect.poll(() => pushes).toBeGreaterThan(0)
      const killedAt = performance.now()
      await spare.kill()
      const error = await failed
      const reportMs = performance.now() - killedAt
      expect(error).toBeInstanceOf(DockerEngineError)
      expect(error.message).toContain(spare.socketPath)
      expect(reportMs).toBeLessThan(2000)
      controller.abort()
      expect(query.activeWatches).toBe(0)
    } finally {
      await spare.kill()
    }
  })
})
