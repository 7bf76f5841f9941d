import { expect, it, onTestFinished } from "vitest"
import { type KubeApiSimulatorOptions, startKubeApiSimulator } from "./kube-api-simulator.js"

const AUTH = { authorization: "Bearer simulator-token" }
const DEPLOYMENTS = "/apis/apps/v1/namespaces/ns/deployments"

async function simulate(options: KubeApiSimulatorOptions = {}) {
  const simulator = await startKubeApiSimulator(options)
  onTestFinished(() => simulator.close())
  const call = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${simulator.url}${path}`, {
      ...init,
      headers: { ...AUTH, ...init.headers },
    })
    return { status: response.status, body: await response.json() }
  }
  return { simulator, call }
}

interface WatchEvent {
  type: string
  object: { kind?: string; metadata: { name?: string; resourceVersion: string } }
}

/** Reads newline-delimited watch events until `count` arrived or the stream ended. */
async function readEvents(url: string, count: number): Promise<WatchEvent[]> {
  const response = await fetch(url, { headers: AUTH, signal: AbortSignal.timeout(5_000) })
  expect(response.status).toBe(200)
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  const events: WatchEvent[] = []
  let buffer = ""
  while (events.length < count) {
    const { value, done } = await reader.read()
    if (done) break
    buffer += value
    let newline = buffer.indexOf("\n")
    while (newline >= 0) {
      events.push(JSON.parse(buffer.slice(0, newline)))
      buffer = buffer.slice(newline + 1)
      newline = buffer.indexOf("\n")
    }
  }
  await reader.cancel()
  return events
}

it("answers as the API server does: Status objects for 401, 404, 409 and 422", async () => {
  const { simulator, call } = await simulate()
  simulator.addWorkload("Deployment", "ns", "api", { replicas: 0 })

  const anonymous = await fetch(`${simulator.url}${DEPLOYMENTS}/api`)
  expect(anonymous.status).toBe(401)
  expect(await anonymous.json()).toMatchObject({
    kind: "Status",
    reason: "Unauthorized",
    code: 401,
  })

  expect(await call(`${DEPLOYMENTS}/nope`)).toMatchObject({
    status: 404,
    body: {
      kind: "Status",
      status: "Failure",
      reason: "NotFound",
      details: { name: "nope", group: "apps", kind: "deployments" },
    },
  })

  const scale = await call(`${DEPLOYMENTS}/api/scale`)
  expect(scale.body).toMatchObject({
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: { name: "api", namespace: "ns" },
    status: { replicas: 0, selector: "app=api" },
  })
  // As the real server: a zero spec.replicas is left out of a Scale.
  expect(scale.body.spec).toEqual({})
  const put = (body: unknown) =>
    call(`${DEPLOYMENTS}/api/scale`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    })
  const stale = {
    ...scale.body,
    metadata: { ...scale.body.metadata, resourceVersion: "1" },
    spec: { replicas: 1 },
  }
  expect(await put(stale)).toMatchObject({ status: 409, body: { reason: "Conflict", code: 409 } })
  expect(await put({ ...scale.body, spec: { replicas: -1 } })).toMatchObject({
    status: 422,
    body: { reason: "Invalid" },
  })
  const written = await put({ ...scale.body, spec: { replicas: 1 } })
  expect(written).toMatchObject({ status: 200, body: { spec: { replicas: 1 } } })
  expect(Number(written.body.metadata.resourceVersion)).toBeGreaterThan(
    Number(scale.body.metadata.resourceVersion),
  )
  expect(simulator.get("Deployment", "ns", "api")?.metadata.generation).toBe(2)
})

it("lists with the collection's resourceVersion and items without kind, filtered by label selector", async () => {
  const { simulator, call } = await simulate()
  simulator.addWorkload("Deployment", "ns", "a", { replicas: 0, labels: { tier: "web" } })
  simulator.addWorkload("Deployment", "ns", "b", { replicas: 0 })
  simulator.addWorkload("Deployment", "other", "c", { replicas: 0 })
  const list = await call(`${DEPLOYMENTS}?labelSelector=${encodeURIComponent("tier=web")}`)
  expect(list.body).toMatchObject({
    kind: "DeploymentList",
    apiVersion: "apps/v1",
    metadata: { resourceVersion: simulator.resourceVersion },
  })
  expect(list.body.items.map((item: { metadata: { name: string } }) => item.metadata.name)).toEqual(
    ["a"],
  )
  expect(list.body.items[0].kind).toBeUndefined()
  const slices = await call(
    "/apis/discovery.k8s.io/v1/namespaces/ns/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Db",
  )
  expect(slices.body.items).toHaveLength(1)
  expect(slices.body.items[0]).toMatchObject({
    addressType: "IPv4",
    endpoints: null,
    metadata: { labels: { "kubernetes.io/service-name": "b" } },
  })
})

it("makes pods ready after a scale-up: the workload's status first, the endpoint later", async () => {
  const { simulator } = await simulate({ podReadyDelayMs: 20, endpointReadyDelayMs: 200 })
  simulator.addWorkload("Deployment", "ns", "api", { replicas: 0 })
  simulator.scale("Deployment", "ns", "api", 1)
  // Created, not ready: omitted zero counts, an unready endpoint.
  expect(simulator.get("Deployment", "ns", "api")?.status).toMatchObject({
    replicas: 1,
    unavailableReplicas: 1,
  })
  expect(simulator.get("Deployment", "ns", "api")?.status.availableReplicas).toBeUndefined()
  expect(simulator.endpointSlice("ns", "api")?.endpoints).toMatchObject([
    { conditions: { ready: false } },
  ])
  await new Promise((resolve) => setTimeout(resolve, 100))
  expect(simulator.get("Deployment", "ns", "api")?.status).toMatchObject({
    availableReplicas: 1,
    readyReplicas: 1,
  })
  expect(simulator.endpointSlice("ns", "api")?.endpoints).toMatchObject([
    { conditions: { ready: false } },
  ])
  await new Promise((resolve) => setTimeout(resolve, 250))
  expect(simulator.endpointSlice("ns", "api")?.endpoints).toMatchObject([
    { conditions: { ready: true } },
  ])
})

it("watches: replays from a resourceVersion, sends BOOKMARKs, refuses a version too old with 410, ends at timeoutSeconds", async () => {
  // Pods never turn ready here: the only events are the scale, then bookmarks.
  const { simulator } = await simulate({ bookmarkIntervalMs: 30, podReadyDelayMs: 600_000 })
  simulator.addWorkload("Deployment", "ns", "api", { replicas: 0, service: false })
  const from = simulator.resourceVersion
  simulator.scale("Deployment", "ns", "api", 1)

  const replay = await readEvents(
    `${simulator.url}${DEPLOYMENTS}?watch=true&allowWatchBookmarks=true&resourceVersion=${from}`,
    3,
  )
  expect(replay[0]).toMatchObject({
    type: "MODIFIED",
    object: { kind: "Deployment", spec: { replicas: 1 } },
  })
  expect(Number(replay[0]!.object.metadata.resourceVersion)).toBeGreaterThan(Number(from))
  const bookmark = replay.find((event) => event.type === "BOOKMARK")
  expect(bookmark?.object).toEqual({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { resourceVersion: expect.any(String) },
  })

  const current = await readEvents(`${simulator.url}${DEPLOYMENTS}?watch=true`, 1)
  expect(current[0]).toMatchObject({ type: "ADDED", object: { metadata: { name: "api" } } })

  simulator.expireWatchWindow()
  const expired = await readEvents(
    `${simulator.url}${DEPLOYMENTS}?watch=true&resourceVersion=${from}`,
    2,
  )
  expect(expired).toEqual([
    {
      type: "ERROR",
      object: expect.objectContaining({ kind: "Status", code: 410, reason: "Expired" }),
    },
  ])

  const started = Date.now()
  const ended = await readEvents(
    `${simulator.url}${DEPLOYMENTS}?watch=true&resourceVersion=${simulator.resourceVersion}&timeoutSeconds=1`,
    100,
  )
  expect(ended).toEqual([])
  expect(Date.now() - started).toBeGreaterThanOrEqual(900)
  expect(simulator.openWatches).toBe(0)
})

it("forbids a denied verb with the API server's 403 message", async () => {
  const { simulator, call } = await simulate()
  simulator.addWorkload("Deployment", "ns", "api", { replicas: 0 })
  simulator.deny("get", "deployments/scale", "ns")
  expect(await call(`${DEPLOYMENTS}/api/scale`)).toMatchObject({
    status: 403,
    body: {
      reason: "Forbidden",
      message: expect.stringContaining(
        'cannot get resource "deployments/scale" in API group "apps" in the namespace "ns"',
      ),
    },
  })
  expect((await call(`${DEPLOYMENTS}/api`)).status).toBe(200)
})
