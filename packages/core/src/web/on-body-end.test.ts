import { describe, expect, it } from "vitest"
import { onBodyEnd } from "./index.js"

const stream = (chunks: string[]) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk))
    },
  })

describe("onBodyEnd", () => {
  it("calls back once the body has been read to the end, keeping status, headers and bytes", async () => {
    let ended = 0
    const source = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("a"))
        controller.enqueue(new TextEncoder().encode("b"))
        controller.close()
      },
    })
    const response = onBodyEnd(
      new Response(source, { status: 201, headers: { "x-kept": "yes" } }),
      () => ended++,
    )
    expect(ended).toBe(0)
    expect(response.status).toBe(201)
    expect(response.headers.get("x-kept")).toBe("yes")
    expect(await response.text()).toBe("ab")
    expect(ended).toBe(1)
  })

  it("calls back once when the reader cancels a body that never ends (the client left)", async () => {
    let ended = 0
    const response = onBodyEnd(new Response(stream(["first"])), () => ended++)
    const reader = response.body!.getReader()
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("first")
    expect(ended).toBe(0)
    await reader.cancel("gone")
    expect(ended).toBe(1)
  })

  it("calls back at once for a response without a body", () => {
    let ended = 0
    const response = new Response(null, { status: 204 })
    expect(onBodyEnd(response, () => ended++)).toBe(response)
    expect(ended).toBe(1)
  })
})
