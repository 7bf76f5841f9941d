import { afterEach, describe, expect, it } from "vitest"
import {
  type FaasProviderSimulator,
  startFaasProviderSimulator,
} from "./faas-provider-simulator.js"

// The simulator's own fidelity, checked on the wire with plain fetch.
describe("faas-provider simulator", () => {
  let simulator: FaasProviderSimulator
  const auth = { authorization: `Basic ${btoa("admin:secret")}` }

  afterEach(async () => {
    await simulator.close()
  })

  it("marshals FunctionStatus with omitempty: zero counts and absent labels are left out", async () => {
    simulator = await startFaasProviderSimulator({
      basicAuth: { user: "admin", password: "secret" },
    })
    simulator.addFunction("figlet", "openfaas-fn")
    const response = await fetch(`${simulator.url}/system/function/figlet?namespace=openfaas-fn`, {
      headers: auth,
    })
    expect(response.status).toBe(200)
    const status = (await response.json()) as Record<string, unknown>
    expect(status).toMatchObject({ name: "figlet", namespace: "openfaas-fn" })
    expect(Object.keys(status)).not.toContain("replicas")
    expect(Object.keys(status)).not.toContain("availableReplicas")
    expect(Object.keys(status)).not.toContain("labels")
  })

  it("refuses missing credentials with 401 and WWW-Authenticate, and answers 404 with an empty body", async () => {
    simulator = await startFaasProviderSimulator({
      basicAuth: { user: "admin", password: "secret" },
    })
    const refused = await fetch(`${simulator.url}/system/function/figlet`)
    expect(refused.status).toBe(401)
    expect(refused.headers.get("www-authenticate")).toBe('Basic realm="Restricted"')
    expect(await refused.text()).toBe("invalid credentials")
    const missing = await fetch(`${simulator.url}/system/function/nope`, { headers: auth })
    expect(missing.status).toBe(404)
    expect(await missing.text()).toBe("")
    expect(simulator.counters.unauthorized).toBe(1)
  })

  it("makes a scaled function available after its start-up delay, and only then invokable", async () => {
    simulator = await startFaasProviderSimulator({ startupDelayMs: 100 })
    simulator.addFunction("figlet", "openfaas-fn")
    expect((await fetch(`${simulator.url}/function/figlet`)).status).toBe(503)
    const scale = await fetch(
      `${simulator.url}/system/scale-function/figlet?namespace=openfaas-fn`,
      {
        method: "POST",
        body: JSON.stringify({ serviceName: "figlet", replicas: 1, namespace: "openfaas-fn" }),
      },
    )
    expect(scale.status).toBe(202)
    expect(simulator.status("figlet", "openfaas-fn")).toEqual({ replicas: 1, availableReplicas: 0 })
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(simulator.status("figlet", "openfaas-fn")).toEqual({ replicas: 1, availableReplicas: 1 })
    const invoked = await fetch(`${simulator.url}/function/figlet/hi?x=1`)
    expect(invoked.status).toBe(200)
    expect(await invoked.text()).toBe("hello from figlet.openfaas-fn (/function/figlet/hi?x=1)")
  })

  it("answers 400 to a malformed scale request and 405 to a wrong method", async () => {
    simulator = await startFaasProviderSimulator()
    simulator.addFunction("figlet", "openfaas-fn")
    const malformed = await fetch(`${simulator.url}/system/scale-function/figlet`, {
      method: "POST",
      body: "{",
    })
    expect(malformed.status).toBe(400)
    const mismatch = await fetch(`${simulator.url}/system/scale-function/figlet`, {
      method: "POST",
      body: JSON.stringify({ serviceName: "other", replicas: 1 }),
    })
    expect(mismatch.status).toBe(400)
    expect((await fetch(`${simulator.url}/system/scale-function/figlet`)).status).toBe(405)
    expect(simulator.status("figlet", "openfaas-fn")).toEqual({ replicas: 0, availableReplicas: 0 })
  })
})
