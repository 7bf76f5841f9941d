// What `npm start` of an example gateway reads from its environment, and how it tells the time.
import { parseDuration } from "@scale-from-zero/core"

/**
 * PORT (default 8080) and IDLE_AFTER, checked; exits with a clear message when either is wrong.
 * @param {{ idleAfter: string, ports?: number }} defaults `ports`: how many consecutive ports from PORT are used
 */
export function readStartOptions({ idleAfter: defaultIdleAfter, ports = 1 }) {
  const port = Number(process.env.PORT ?? 8080)
  const idleAfter = process.env.IDLE_AFTER ?? defaultIdleAfter
  const idleAfterMs = parseDuration(idleAfter)
  if (!Number.isInteger(port) || port < 0 || port > 65_536 - ports) {
    console.error(`PORT must be a port number, got ${process.env.PORT}`)
    process.exit(1)
  }
  if (idleAfterMs === undefined || idleAfterMs <= 0) {
    console.error(
      `IDLE_AFTER must be a duration such as ${defaultIdleAfter}, 2m or 500ms, got ${idleAfter}`,
    )
    process.exit(1)
  }
  return { port, idleAfter, idleAfterMs }
}

/** console.log with the time of day, to the millisecond. */
export function log(line) {
  console.log(`[${new Date().toISOString().slice(11, 23)}] ${line}`)
}
