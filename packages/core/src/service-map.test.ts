import { describe, expect, it } from "vitest"
import { ServiceMap } from "./service-map.js"

describe("ServiceMap", () => {
  it("keeps one value per name and namespace, counting each once", () => {
    const map = new ServiceMap<number>()
    map.set("echo", "a", 1)
    map.set("echo", "b", 2)
    map.set("echo", "a", 3)
    expect(map.size).toBe(2)
    expect(map.get("echo", "a")).toBe(3)
    expect(map.get("echo", "b")).toBe(2)
    expect(map.has("echo", "c")).toBe(false)
    // "a.b" + "c" and "a" + "b.c" would share a joined key; here they are two services.
    map.set("a.b", "c", 4)
    map.set("a", "b.c", 5)
    expect([map.get("a.b", "c"), map.get("a", "b.c")]).toEqual([4, 5])
  })

  it("deletes, reporting whether a value was there, and lets values() go on past a deletion", () => {
    const map = new ServiceMap<string>()
    for (const name of ["x", "y", "z"]) map.set(name, "ns", name)
    const seen: string[] = []
    for (const value of map.values()) {
      seen.push(value)
      if (value === "x") expect(map.delete("y", "ns")).toBe(true)
    }
    expect(seen).toEqual(["x", "z"])
    expect(map.delete("y", "ns")).toBe(false)
    expect(map.delete("x", "other")).toBe(false)
    expect(map.size).toBe(2)
    map.delete("x", "ns")
    map.delete("z", "ns")
    expect(map.size).toBe(0)
    expect([...map.values()]).toEqual([])
  })
})
