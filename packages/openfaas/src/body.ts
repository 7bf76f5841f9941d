/** Reading an answer's body with a bound, and letting go of one we do not need. */

const MAX_EXCERPT_CHARS = 200

/** The start of a text on one line, at most 200 characters and an ellipsis. */
export function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim()
  return flat.length > MAX_EXCERPT_CHARS ? `${flat.slice(0, MAX_EXCERPT_CHARS)}…` : flat
}

/** Lets the connection go without reading an answer we do not need. */
export function discard(response: Response): void {
  response.body?.cancel().catch(() => {})
}

/** Reads at most `limit` bytes of the body as text, then cancels the rest. */
export async function readBounded(
  response: Response,
  limit: number,
): Promise<{ text: string; complete: boolean }> {
  if (response.body === null) return { text: "", complete: true }
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  let complete = true
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (size + value.byteLength > limit) {
        chunks.push(value.subarray(0, limit - size))
        size = limit
        complete = false
        await reader.cancel().catch(() => {})
        break
      }
      chunks.push(value)
      size += value.byteLength
    }
  } finally {
    reader.releaseLock()
  }
  const bytes = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return { text: new TextDecoder().decode(bytes), complete }
}
