// The Koa gateway in front of the REAL faas-netes (OpenFaaS CE on a real kube-apiserver). No
// kubelet runs: the test plays the controllers, marking the function's Deployment available and
// writing its Endpoints (faas-netes proxies /function/ to an endpoint's address, port 8080). The
// "pod" is a local server on this machine's own non-loopback address (the API refuses loopback
// endpoints), port 8080 as faas-netes' watchdog port.
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { networkInterfaces } from "node:os"
import { deployFunction, kube, loadKubeConfig } from "@scale-from-zero/test-kit/kube-apiserver"
import { useFaasNetes } from "@scale-from-zero/test-kit/kube-apiserver-inject"
import { writeWorkloadStatus } from "@scale-from-zero/test-kit/kube-controller"
import { describe, expect, it, onTestFinished } from "vitest"
import { createGateway } from "./app.js"
import { readGatewayConfig } from "./config.js"

const faasNetes = useFaasNetes()
const podAddress = Object.values(networkInterfaces())
  .flat()
  .find((address) => address?.family === "IPv4" && !address.internal)?.address
const skipped =
  faasNetes.skipped ?? (podAddress === undefined ? "no non-loopback IPv4 address" : undefined)
if (skipped !== undefined && process.env.CI === "true") {
  throw new Error(`CI needs the gateway test on faas-netes: ${skipped}`)
}

const listen = async (server: Server, port: number, host: string) => {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(port, host, resolve)
  })
  onTestFinished(() => {
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
}

describe.skipIf(skipped !== undefined)("the Koa gateway in front of a real faas-netes", () => {
  it("holds a request for a cold function (1 replica, none available) and releases it when its Deployment turns available", async () => {
    const { url = "", basicAuth, namespace = "openfaas-fn", kubeconfigPath = "" } = faasNetes
    if (basicAuth === undefined) throw new Error("faas-netes did not start")
    const admin = loadKubeConfig(kubeconfigPath)
    const name = `figlet-${process.pid}`
    await deployFunction(url, basicAuth, namespace, { service: name })

    // The function's pod.
    const pod = createServer((req, res) => res.end(`figlet pod answered ${req.method} ${req.url}`))
    await listen(pod, 8080, podAddress ?? "")

    const secrets = { user: basicAuth.user, password: basicAuth.password }
    const config = readGatewayConfig(
      { functions_provider_url: url, basic_auth: "true", secret_mount_path: "/secrets" },
      (path) => (path.endsWith("basic-auth-user") ? secrets.user : secrets.password),
    )
    const { app, gate } = createGateway(config)
    onTestFinished(() => gate.close())
    const gateway = createServer(app.callback())
    await listen(gateway, 0, "127.0.0.1")

    const started = performance.now()
    let answered = false
    const response = fetch(
      `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/function/${name}/render?text=hi`,
    ).then((answer) => {
      answered = true
      return answer
    })
    await new Promise((resolve) => setTimeout(resolve, 400))
    expect(answered).toBe(false)

    // The pod started: its endpoint, then the Deployment's available replica.
    await kube(admin, "POST", `/api/v1/namespaces/${namespace}/endpoints`, {
      metadata: { name },
      subsets: [{ addresses: [{ ip: podAddress }], ports: [{ name: "http", port: 8080 }] }],
    })
    await writeWorkloadStatus(admin, namespace, "Deployment", name, { total: 1, ready: 1 })

    const answer = await response
    expect(answer.status).toBe(200)
    expect(await answer.text()).toBe("figlet pod answered GET /render?text=hi")
    expect(answer.headers.get("server-timing")).toMatch(/^cold-start;dur=\d+/)
    expect(performance.now() - started).toBeGreaterThanOrEqual(400)
  })
})
