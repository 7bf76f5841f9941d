import { describe, expect, it } from "vitest"
import { createGate } from "../gate.js"
import { createMemoryServiceQuery } from "../testing/index.js"
import { admitRequest } from "./index.js"

describe("admitRequest", () => {
  it("shows the gate the path and query as sent, taking the framework's path only when it is exactly that", () => {
    const serviceQuery = createMemoryServiceQuery({ services: {} })
    const seen: string[] = []
    const gate = createGate({
      serviceQuery,
      resolve: (request) => {
        seen.push(`${request.method} ${request.path} ${request.headers.get("x-who")}`)
        return undefined
      },
    })
    const at = (url: string, who: string) =>
      new Request(url, { method: "HEAD", headers: { "x-who": who } })
    admitRequest(gate, at("http://host/a/b", "1"), "/a/b")
    admitRequest(gate, at("http://host/a/b?x=1", "2"), "/a/b")
    admitRequest(gate, at("http://host/a%20b", "3"), "/a b")
    admitRequest(gate, at("http://host:8080/c", "4"))
    admitRequest(gate, at("http://host/a/b", "5"), "/x/y") // as long, but another path
    expect(seen).toEqual([
      "HEAD /a/b 1",
      "HEAD /a/b?x=1 2",
      "HEAD /a%20b 3",
      "HEAD /c 4",
      "HEAD /a/b 5",
    ])
    gate.close()
    serviceQuery.close()
  })
})
