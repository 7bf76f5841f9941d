import { describe, expect, it } from "vitest"
import {
  checkNamespace,
  checkServiceName,
  getNamespace,
  getServiceName,
  getServiceNameFromPath,
} from "./names.js"

describe("getServiceName", () => {
  it.each([
    ["/function/xyz", "xyz"],
    ["/function/xyz/", "xyz"],
    ["/function/xyz/rest/of/path?q=a", "xyz"],
    ["/function/xyz?q=a", "xyz"],
    ["/function/xyz.ns/path", "xyz.ns"],
    ["/system/functions", ""],
    ["/functions/xyz", ""],
    ["/", ""],
  ])("%s → %j", (url, name) => {
    expect(getServiceName(url)).toBe(name)
  })

  it("reads async-function paths only through getServiceNameFromPath", () => {
    expect(getServiceName("/async-function/xyz")).toBe("")
    expect(getServiceNameFromPath("/async-function/xyz/a")).toBe("xyz")
    expect(getServiceNameFromPath("/function/xyz#frag")).toBe("xyz")
  })
})

describe("getNamespace", () => {
  it("uses the default namespace for a bare name", () => {
    expect(getNamespace("openfaas-fn", "figlet")).toEqual(["figlet", "openfaas-fn"])
  })
  it("splits name.namespace on the last dot", () => {
    expect(getNamespace("openfaas-fn", "figlet.staging")).toEqual(["figlet", "staging"])
    expect(getNamespace("openfaas-fn", "a.b.c")).toEqual(["a.b", "c"])
  })
})

describe("name validation", () => {
  it("accepts upstream's character set", () => {
    expect(checkServiceName("nodeinfo-1_2.v3")).toBeUndefined()
    expect(checkNamespace("openfaas-fn")).toBeUndefined()
  })
  it.each(["", "a/b", "..%2f", "a b", "x".repeat(254), "ünï"])("rejects name %j", (name) => {
    expect(checkServiceName(name)?.name).toBe("InvalidServiceNameError")
  })
  it.each(["", "a.b", "n".repeat(64), "a/b"])("rejects namespace %j", (ns) => {
    expect(checkNamespace(ns)?.name).toBe("InvalidServiceNameError")
  })
})
