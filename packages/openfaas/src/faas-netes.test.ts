// The provider against the REAL faas-netes (OpenFaaS Community Edition, built from source, on a
// real kube-apiserver; basic auth on): what it really sends and answers.
import { SCALING_FACTOR_LABEL } from "@scale-from-zero/core"
import { deployFunction, kube, loadKubeConfig } from "@scale-from-zero/test-kit/kube-apiserver"
import { useFaasNetes } from "@scale-from-zero/test-kit/kube-apiserver-inject"
import { workloadPath, writeWorkloadStatus } from "@scale-from-zero/test-kit/kube-controller"
import { describe, expect, it } from "vitest"
import {
  createOpenFaaSServiceQuery,
  OpenFaaSCredentialsError,
  OpenFaaSProviderError,
} from "./index.js"

const faasNetes = useFaasNetes()
const url = faasNetes.url ?? ""
const NS = faasNetes.namespace ?? "openfaas-fn"
let serial = 0
const unique = (what: string) => `${what}-${process.pid}-${++serial}`

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error("expected a rejection")
    },
    (error: unknown) => error,
  )

/** Reads until `done` holds: faas-netes answers from its informer cache, a moment behind. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 5_000
  for (;;) {
    const value = await read()
    if (done(value)) return value
    if (Date.now() > deadline) throw new Error(`still ${JSON.stringify(value)} after 5000ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe.skipIf(faasNetes.skipped !== undefined)("against a real faas-netes", () => {
  const basicAuth = faasNetes.basicAuth ?? { user: "", password: "" }
  const query = createOpenFaaSServiceQuery({ url, basicAuth, timeoutMs: 5_000 })

  it("reads a cold function, whose status leaves out its zero available replicas, as 0 available", async () => {
    const name = unique("cold")
    await deployFunction(url, basicAuth, NS, {
      service: name,
      labels: { "com.openfaas.scale.max": "3", team: "a" },
      annotations: { owner: "ops" },
    })
    const raw = await fetch(`${url}/system/function/${name}?namespace=${NS}`, {
      headers: {
        authorization: `Basic ${Buffer.from(`${basicAuth.user}:${basicAuth.password}`).toString("base64")}`,
      },
    })
    const body = await raw.json()
    expect(body).not.toHaveProperty("availableReplicas")
    expect(body.replicas).toBe(1)
    const status = await query.getReplicas(name, NS)
    expect(status).toMatchObject({
      replicas: 1,
      availableReplicas: 0,
      maxReplicas: 3,
      minReplicas: 1,
    })
    expect(status.labels).toMatchObject({ team: "a", faas_function: name })
    expect(status.annotations).toMatchObject({ owner: "ops" })
  })

  it("reports a scale factor label outside 1..100 as a provider error, as upstream", async () => {
    const name = unique("factor")
    await deployFunction(url, basicAuth, NS, {
      service: name,
      labels: { [SCALING_FACTOR_LABEL]: "0" },
    })
    const error = await failure(query.getReplicas(name, NS))
    expect(error).toBeInstanceOf(OpenFaaSProviderError)
    expect((error as Error).message).toContain("bad scaling factor")
    expect((error as Error).cause).toBeInstanceOf(RangeError)
  })

  it("scales a function (202), and faas-netes caps the count at CE's 5", async () => {
    const name = unique("scale")
    await deployFunction(url, basicAuth, NS, { service: name })
    await query.setReplicas(name, NS, 3)
    // A read right after the scale can still show the old count (faas-netes' cache).
    await eventually(
      () => query.getReplicas(name, NS),
      (s) => s.replicas === 3,
    )
    await query.setReplicas(name, NS, 9)
    await eventually(
      () => query.getReplicas(name, NS),
      (s) => s.replicas === 5,
    )
    // The Deployment turning available, as its controller would write it, shows in the status.
    const admin = loadKubeConfig(faasNetes.kubeconfigPath ?? "")
    await writeWorkloadStatus(admin, NS, "Deployment", name, { total: 5, ready: 5 })
    await eventually(
      () => query.getReplicas(name, NS),
      (s) => s.availableReplicas === 5,
    )
    const deployment = await kube(admin, "GET", workloadPath("Deployment", NS, name))
    expect(deployment.spec.replicas).toBe(5)
  })

  it("reports an unknown function as not found from both calls (GET 404; scale 500 'Unable to lookup function deployment', confirmed by a read)", async () => {
    const name = unique("ghost")
    expect(await failure(query.getReplicas(name, NS))).toMatchObject({
      code: "ERR_SERVICE_NOT_FOUND",
      service: name,
      namespace: NS,
    })
    expect(await failure(query.setReplicas(name, NS, 1))).toMatchObject({
      code: "ERR_SERVICE_NOT_FOUND",
      service: name,
      namespace: NS,
    })
  })

  it("carries faas-netes' 400 and its text: another namespace, and a scale to zero (refused by CE)", async () => {
    const name = unique("refused")
    await deployFunction(url, basicAuth, NS, { service: name })
    const otherNamespace = await failure(query.setReplicas(name, "team-b", 1))
    expect(otherNamespace).toBeInstanceOf(OpenFaaSProviderError)
    expect(otherNamespace).toMatchObject({ status: 400, bodyExcerpt: `namespace must be: ${NS}` })
    expect(await failure(query.getReplicas(name, "team-b"))).toMatchObject({
      code: "ERR_BACKEND",
      status: 400,
      bodyExcerpt: `namespace must be: ${NS}`,
    })
    const toZero = await failure(query.setReplicas(name, NS, 0))
    expect(toZero).toMatchObject({
      code: "ERR_BACKEND",
      status: 400,
      bodyExcerpt: "replicas cannot be set to 0 in OpenFaaS CE",
    })
    expect((toZero as Error).message).toContain(
      `set-replicas ${name}.${NS}: the OpenFaaS provider at ${url} answered 400: replicas cannot be set to 0 in OpenFaaS CE`,
    )
  })

  it("says the credentials were refused (401, faas-netes' words) or not given", async () => {
    const name = unique("auth")
    await deployFunction(url, basicAuth, NS, { service: name })
    const wrong = createOpenFaaSServiceQuery({
      url,
      basicAuth: { user: basicAuth.user, password: "not-the-password" },
    })
    const refused = await failure(wrong.getReplicas(name, NS))
    expect(refused).toBeInstanceOf(OpenFaaSCredentialsError)
    expect(refused).toMatchObject({ status: 401, bodyExcerpt: "invalid credentials" })
    expect((refused as Error).message).toContain("check basicAuth or token")
    const none = await failure(createOpenFaaSServiceQuery({ url }).setReplicas(name, NS, 2))
    expect(none).toMatchObject({ status: 401 })
    expect((none as Error).message).toContain("no credentials were given (set basicAuth or token)")
  })
})
