// examples/kubernetes on a REAL kube-apiserver: its manifests applied as they are (namespaces,
// the gateway's ServiceAccount, Role and RoleBinding, the hello Deployment and Service), then the
// README's quick-start gateway run outside the cluster with a kubeconfig holding that
// ServiceAccount's token. No kubelet runs: the test controller plays the deployment and
// endpoint-slice controllers, and a local server stands in for hello's pod (the quick start's
// cluster DNS name is the one thing replaced).
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { createServer, request } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { KubernetesObjectApi, loadAllYaml } from "@kubernetes/client-node"
import { scaleFromZero } from "@scale-from-zero/express"
import {
  kubeConfigWithToken,
  loadKubeConfig,
  serviceAccountToken,
} from "@scale-from-zero/test-kit/kube-apiserver"
import { useKubeApiServer } from "@scale-from-zero/test-kit/kube-apiserver-inject"
import { startTestController, type TestController } from "@scale-from-zero/test-kit/kube-controller"
import express from "express"
import supertest from "supertest"
import { describe, expect, it, onTestFinished } from "vitest"
import { createKubernetesServiceQuery } from "./index.js"

const server = useKubeApiServer()

const example = async (file: string) =>
  loadAllYaml(
    await readFile(new URL(`../../../examples/kubernetes/${file}`, import.meta.url), "utf8"),
  )

describe.skipIf(server.skipped !== undefined)(
  "examples/kubernetes on a real kube-apiserver",
  () => {
    it("applies as it is, and its gateway, signed in as the example's ServiceAccount, holds a request until hello's endpoint is ready", async () => {
      const admin = loadKubeConfig(server.kubeconfigPath ?? "")
      const client = KubernetesObjectApi.makeApiClient(admin)
      // The only test that uses the example's own namespace names in this run's server.
      for (const file of ["namespaces.yaml", "gateway-rbac.yaml", "hello.yaml"]) {
        for (const object of await example(file)) await client.create(object)
      }
      const token = await serviceAccountToken(admin, "gateway", "scale-from-zero-gateway", false)
      const folder = await mkdtemp(join(tmpdir(), "sfz-example-"))
      const kubeconfig = join(folder, "config")
      await writeFile(kubeconfig, kubeConfigWithToken(admin, token, "gateway").exportConfig())
      const previous = process.env.KUBECONFIG
      process.env.KUBECONFIG = kubeconfig
      onTestFinished(async () => {
        if (previous === undefined) delete process.env.KUBECONFIG
        else process.env.KUBECONFIG = previous
        await rm(folder, { recursive: true, force: true })
      })

      // hello's pod: what the Service routes to once its endpoint is ready.
      let controller: TestController | undefined
      const writesWhenServed: unknown[] = []
      const pod = createServer((req, res) => {
        writesWhenServed.push(controller?.writes.at(-1))
        res.end(`hello from ${req.url}`)
      })
      await new Promise<void>((resolve) => pod.listen(0, "127.0.0.1", resolve))
      onTestFinished(() => new Promise<void>((resolve) => pod.close(() => resolve())))
      controller = await startTestController({
        kubeConfig: admin,
        namespace: "apps",
        podReadyDelayMs: 50,
        endpointReadyDelayMs: 250,
      })
      onTestFinished(() => controller?.close())

      // The README's quick start, with the upstream host of the cluster's DNS pointed at the pod.
      const namespace = process.env.SERVICES_NAMESPACE ?? "apps"
      const serviceQuery = createKubernetesServiceQuery()
      onTestFinished(() => serviceQuery.close())
      const app = express()
      const middleware = scaleFromZero({
        serviceQuery,
        defaultNamespace: namespace,
        timeout: 60_000,
      })
      onTestFinished(() => middleware.gate.close())
      app.use(middleware)
      app.use("/function/:target", (req, res) => {
        const upstream = request(
          {
            host: "127.0.0.1",
            port: (pod.address() as AddressInfo).port,
            method: req.method,
            path: req.url,
            headers: req.headers,
          },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers)
            answer.pipe(res)
          },
        )
        upstream.on("error", () => (res.headersSent ? res.destroy() : res.status(502).end()))
        req.pipe(upstream)
      })

      const response = await supertest(app).get("/function/hello/hostname")
      expect(response.status).toBe(200)
      expect(response.text).toBe("hello from /hostname")
      expect(response.headers["server-timing"]).toMatch(/cold-start;dur=\d+/)
      // Forwarded only once the endpoint in hello's EndpointSlice was ready.
      expect(writesWhenServed).toEqual([
        expect.objectContaining({ workload: "hello", what: "slice", total: 1, ready: 1 }),
      ])
      // The scale went through the example's Role: hello now has the replica it asked for.
      expect(await serviceQuery.getReplicas("hello", "apps")).toMatchObject({
        replicas: 1,
        availableReplicas: 1,
      })
    })
  },
)
