import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { availableParallelism, tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { readGatewayConfig } from "./config.js"

describe("readGatewayConfig", () => {
  let secrets: string | undefined

  afterEach(() => {
    if (secrets) rmSync(secrets, { recursive: true, force: true })
    secrets = undefined
  })

  const secretDir = (user: string, password: string) => {
    secrets = mkdtempSync(join(tmpdir(), "sfz-secrets-"))
    writeFileSync(join(secrets, "basic-auth-user"), user)
    writeFileSync(join(secrets, "basic-auth-password"), password)
    return secrets
  }

  it("has the OpenFaaS gateway's defaults", () => {
    expect(readGatewayConfig({})).toEqual({
      providerUrl: "http://127.0.0.1:8080",
      basicAuth: undefined,
      functionNamespace: "openfaas-fn",
      port: 8080,
      upstreamTimeoutMs: 60_000,
      workers: 1,
    })
  })

  it("reads GATEWAY_WORKERS: a whole number of workers, or auto for one per core", () => {
    expect(readGatewayConfig({ GATEWAY_WORKERS: "" }).workers).toBe(1)
    expect(readGatewayConfig({ GATEWAY_WORKERS: "1" }).workers).toBe(1)
    expect(readGatewayConfig({ GATEWAY_WORKERS: "3" }).workers).toBe(3)
    expect(readGatewayConfig({ GATEWAY_WORKERS: "auto" }).workers).toBe(availableParallelism())
    for (const bad of ["0", "-1", "2.5", "1e3", "two", " 2", "1025", "AUTO"]) {
      expect(() => readGatewayConfig({ GATEWAY_WORKERS: bad }), bad).toThrow(
        `GATEWAY_WORKERS must be a whole number from 1 to 1024, or auto, got ${JSON.stringify(bad)}`,
      )
    }
  })

  it("reads the provider URL from functions_provider_url, else OPENFAAS_URL", () => {
    expect(readGatewayConfig({ OPENFAAS_URL: "http://gw:8080" }).providerUrl).toBe("http://gw:8080")
    expect(
      readGatewayConfig({
        OPENFAAS_URL: "http://gw:8080",
        functions_provider_url: "http://p:8081/",
      }).providerUrl,
    ).toBe("http://p:8081/")
  })

  it("reads basic auth from the secret files, trimmed, when basic_auth=true", () => {
    const secret_mount_path = secretDir("admin\n", "  s3cret\n")
    expect(readGatewayConfig({ basic_auth: "true", secret_mount_path }).basicAuth).toEqual({
      user: "admin",
      password: "s3cret",
    })
  })

  it("ignores the secret files unless basic_auth=true, as the OpenFaaS gateway does", () => {
    const secret_mount_path = secretDir("admin", "s3cret")
    expect(readGatewayConfig({ basic_auth: "1", secret_mount_path }).basicAuth).toBeUndefined()
  })

  it("takes OPENFAAS_USER / OPENFAAS_PASSWORD when there are no secret files", () => {
    expect(readGatewayConfig({ OPENFAAS_PASSWORD: "pw" }).basicAuth).toEqual({
      user: "admin",
      password: "pw",
    })
    expect(
      readGatewayConfig({
        basic_auth: "true",
        secret_mount_path: "/nonexistent",
        OPENFAAS_USER: "ops",
        OPENFAAS_PASSWORD: "pw",
      }).basicAuth,
    ).toEqual({ user: "ops", password: "pw" })
  })

  it("fails clearly when basic_auth=true and no credentials can be read", () => {
    expect(() =>
      readGatewayConfig({ basic_auth: "true", secret_mount_path: "/nonexistent" }),
    ).toThrow("basic_auth=true but /nonexistent/basic-auth-user cannot be read")
  })

  it.each([
    ["65", 65_000],
    ["1m5s", 65_000],
    ["500ms", 500],
  ])("reads upstream_timeout %s as seconds or a duration", (raw, ms) => {
    expect(readGatewayConfig({ upstream_timeout: raw }).upstreamTimeoutMs).toBe(ms)
  })

  it.each([
    ["upstream_timeout", "soon"],
    ["upstream_timeout", "0"],
    ["PORT", "http"],
    ["PORT", "70000"],
  ])("refuses %s=%s", (name, value) => {
    expect(() => readGatewayConfig({ [name]: value })).toThrow(name)
  })
})
