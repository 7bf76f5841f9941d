import type { IncomingMessage } from "node:http"

/** An HTTP answer: its status, and its body parsed as JSON (the text itself when it is not JSON). */
export interface JsonAnswer {
  status: number
  body: unknown
}

/** Reads `response` to its end and hands `done` the answer: shared by the API test clients. */
export function collectJsonAnswer(
  response: IncomingMessage,
  done: (answer: JsonAnswer) => void,
): void {
  let text = ""
  response.setEncoding("utf8")
  response.on("data", (chunk: string) => {
    text += chunk
  })
  response.on("end", () => {
    let parsed: unknown = text
    try {
      parsed = text ? JSON.parse(text) : undefined
    } catch {}
    done({ status: response.statusCode ?? 0, body: parsed })
  })
}
