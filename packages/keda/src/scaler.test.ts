import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import * as grpc from "@grpc/grpc-js"
import { loadSync } from "@grpc/proto-loader"
import { createGate, type Gate, type GatePass, type GateRequest } from "@scale-from-zero/core"
import { createMemoryServiceQuery, type MemoryServiceQuery } from "@scale-from-zero/core/testing"
import { createRedisSharedActivity, type RedisSharedActivity } from "@scale-from-zero/redis"
import { REDIS_URL, requireRedis, uniquePrefix } from "@scale-from-zero/test-kit/redis-server"
import { afterEach, describe, expect, it } from "vitest"
import { createKedaScaler, EXTERNAL_SCALER_PROTO, leaveReplicasToKeda } from "./index.js"

const PROTO_PATH = fileURLToPath(new URL("../externalscaler.proto", import.meta.url))
const NS = "openfaas-fn"
const request: GateRequest = {
  method: "GET",
  path: "/function/svc",
  headers: new Headers({ accept: "application/json" }),
}

/** The fields of the three unary answers, as the client decodes them. */
interface Answer {
  result?: boolean
  metricSpecs?: { metricName: string; targetSize: number; targetSizeFloat: number }[]
  metricValues: { metricName: string; metricValue: number; metricValueFloat: number }[]
}

/** KEDA's side: a client of externalscaler.ExternalScaler built from the shipped .proto file. */
type Unary = (
  request: object,
  callback: (error: grpc.ServiceError | null, response: Answer) => void,
) => void
interface ExternalScalerClient extends grpc.Client {
  IsActive: Unary
  GetMetricSpec: Unary
  GetMetrics: Unary
  StreamIsActive(request: object): grpc.ClientReadableStream<{ result: boolean }>
}
function kedaClient(port: number): ExternalScalerClient {
  const definition = loadSync(PROTO_PATH, { keepCase: true, longs: Number, defaults: true })
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    externalscaler: {
      ExternalScaler: new (
        address: string,
        credentials: grpc.ChannelCredentials,
      ) => ExternalScalerClient
    }
  }
  return new loaded.externalscaler.ExternalScaler(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  )
}
const ask = (
  client: ExternalScalerClient,
  method: "IsActive" | "GetMetricSpec" | "GetMetrics",
  body: object,
) =>
  new Promise<Answer>((resolve, reject) =>
    client[method](body, (error, response) => (error ? reject(error) : resolve(response))),
  )

// The ScaledObject's trigger as KEDA sends it.
const ref = {
  name: "svc-scaler",
  namespace: NS,
  scalerMetadata: { service: "svc", targetConcurrency: "5" },
}

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function setup(options: { shared?: RedisSharedActivity; backend?: MemoryServiceQuery } = {}) {
  const backend =
    options.backend ?? createMemoryServiceQuery({ services: { svc: { startupDelayMs: 60_000 } } })
  const gate = createGate({ serviceQuery: backend, countInFlight: true })
  const scaler = createKedaScaler({
    gate,
    ...(options.shared && { shared: options.shared }),
    publishIntervalMs: 50,
  })
  const port = await scaler.listen("127.0.0.1:0")
  const client = kedaClient(port)
  cleanups.push(
    () => backend.close(),
    () => gate.close(),
    () => scaler.close(),
    () => client.close(),
  )
  return { backend, gate, scaler, client }
}

/** A held request, with the controller that ends it. */
function hold(gate: Gate) {
  const verdict = gate.admit(request)
  if (verdict.kind !== "hold") throw new Error(`expected a hold, got ${verdict.kind}`)
  const client = new AbortController()
  const answer = gate.wait(verdict, client.signal)
  return { leave: () => client.abort(), answer }
}

it("ships the protocol it serves", () => {
  expect(readFileSync(PROTO_PATH, "utf8")).toBe(EXTERNAL_SCALER_PROTO)
})

it("GetMetricSpec names the metric and the target (the trigger's, else the option)", async () => {
  const { client } = await setup()
  expect(await ask(client, "GetMetricSpec", ref)).toEqual({
    metricSpecs: [{ metricName: "requests", targetSize: 5, targetSizeFloat: 5 }],
  })
  const { scalerMetadata: _, ...withoutMetadata } = ref
  expect(
    await ask(client, "GetMetricSpec", { ...withoutMetadata, scalerMetadata: { service: "svc" } }),
  ).toEqual({ metricSpecs: [{ metricName: "requests", targetSize: 10, targetSizeFloat: 10 }] })
  await expect(
    ask(client, "GetMetricSpec", {
      ...ref,
      scalerMetadata: { service: "svc", targetConcurrency: "x" },
    }),
  ).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT })
})

it("IsActive is false at zero and true the moment a request is held; GetMetrics counts held and in flight", async () => {
  const backend = createMemoryServiceQuery({ services: { svc: { startupDelayMs: 200 } } })
  const { gate, client } = await setup({ backend })
  expect(await ask(client, "IsActive", ref)).toEqual({ result: false })
  expect(await ask(client, "GetMetrics", { scaledObjectRef: ref, metricName: "requests" })).toEqual(
    {
      metricValues: [{ metricName: "requests", metricValue: 0, metricValueFloat: 0 }],
    },
  )

  const held = [hold(gate), hold(gate), hold(gate)]
  expect(await ask(client, "IsActive", ref)).toEqual({ result: true })
  expect(
    (await ask(client, "GetMetrics", { scaledObjectRef: ref, metricName: "requests" }))
      .metricValues[0]?.metricValue,
  ).toBe(3)

  // Ready: the three pass and stay in flight, and one more passes warm.
  const passes = (await Promise.all(held.map((one) => one.answer))) as GatePass[]
  const warm = gate.admit(request) as GatePass
  expect(warm.kind).toBe("pass")
  expect(
    (await ask(client, "GetMetrics", { scaledObjectRef: ref, metricName: "requests" }))
      .metricValues[0]?.metricValue,
  ).toBe(4)
  for (const pass of [...passes, warm]) gate.finished(pass)
  expect(await ask(client, "IsActive", ref)).toEqual({ result: false })
})

it("StreamIsActive pushes a change within 100 ms", async () => {
  const { gate, client } = await setup()
  const stream = client.StreamIsActive(ref)
  cleanups.push(() => stream.cancel())
  const pushes: { result: boolean; at: number }[] = []
  stream.on("data", (message: { result: boolean }) => pushes.push({ ...message, at: Date.now() }))
  stream.on("error", () => {}) // the cancel at the end
  await expect.poll(() => pushes.length).toBe(1)
  expect(pushes[0]?.result).toBe(false)

  const heldAt = Date.now()
  const held = hold(gate)
  await expect.poll(() => pushes.length, { timeout: 1_000 }).toBe(2)
  expect(pushes[1]?.result).toBe(true)
  expect(pushes[1]!.at - heldAt).toBeLessThanOrEqual(100)

  const leftAt = Date.now()
  held.leave()
  await expect.poll(() => pushes.length, { timeout: 1_000 }).toBe(3)
  expect(pushes[2]?.result).toBe(false)
  expect(pushes[2]!.at - leftAt).toBeLessThanOrEqual(100)
})

it("with KEDA owning replicas, a held request waits for the replica KEDA starts and asks for none", async () => {
  const backend = createMemoryServiceQuery({ services: { svc: {} } })
  const gate = createGate({ serviceQuery: leaveReplicasToKeda(backend), countInFlight: true })
  cleanups.push(
    () => backend.close(),
    () => gate.close(),
  )
  const held = hold(gate)
  await new Promise((resolve) => setTimeout(resolve, 200))
  expect(backend.calls.setReplicas).toBe(0)
  // KEDA, told by IsActive, scales the Deployment.
  await backend.setReplicas("svc", NS, 1)
  expect(await held.answer).toMatchObject({ kind: "pass" })
  expect(backend.calls.setReplicas).toBe(1)
})

it("rejects a ScaledObject that names no service", async () => {
  const { client } = await setup()
  await expect(ask(client, "IsActive", { name: "", namespace: NS })).rejects.toMatchObject({
    code: grpc.status.INVALID_ARGUMENT,
  })
})

const skipReason = await requireRedis()

describe.skipIf(skipReason !== undefined)("with counts shared through Redis", () => {
  it("sums the held requests of every gateway instance, whichever scaler KEDA asks", async () => {
    const keyPrefix = uniquePrefix()
    const sharedA = createRedisSharedActivity({ url: REDIS_URL, keyPrefix })
    const sharedB = createRedisSharedActivity({ url: REDIS_URL, keyPrefix })
    cleanups.push(
      () => sharedA.close(),
      () => sharedB.close(),
    )
    const backend = createMemoryServiceQuery({ services: { svc: { startupDelayMs: 60_000 } } })
    const a = await setup({ shared: sharedA, backend })
    const b = await setup({ shared: sharedB, backend })
    const held = [hold(a.gate), hold(a.gate), hold(b.gate)]
    const metric = async (client: ExternalScalerClient) =>
      (await ask(client, "GetMetrics", { scaledObjectRef: ref, metricName: "requests" }))
        .metricValues[0]?.metricValue
    await expect.poll(() => metric(b.client), { timeout: 2_000 }).toBe(3)
    await expect.poll(() => metric(a.client), { timeout: 2_000 }).toBe(3)
    expect(await ask(b.client, "IsActive", ref)).toEqual({ result: true })
    for (const one of held) one.leave()
    await expect.poll(() => metric(b.client), { timeout: 2_000 }).toBe(0)
  })
})
