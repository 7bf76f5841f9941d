// Our share of a loaded warm server's CPU profile, per adapter, and where it goes:
// `warm-profile.ts [SECONDS] [ROUNDS] [FRAMEWORK…]`. Each round profiles a fresh middleware
// server (a sample every 100 µs) under autocannon; prints every profile's share, the share of
// all samples pooled, and our functions' own time, largest first.
import { profileShares } from "./warm.js"

const [secondsArg = "3", roundsArg = "3", ...named] = process.argv.slice(2)
const frameworks = named.length > 0 ? named : ["express", "koa", "hono"]
for (const framework of frameworks) {
  const { pooled, range, shares } = await profileShares(
    framework,
    Number(secondsArg),
    Number(roundsArg),
  )
  const own = new Map<string, number>()
  let busy = 0
  for (const share of shares) {
    busy += share.busyMicros
    for (const [name, micros] of share.ours) own.set(name, (own.get(name) ?? 0) + micros)
  }
  const each = shares.map((s) => ((100 * s.oursMicros) / s.busyMicros).toFixed(2))
  process.stdout.write(
    `${framework}: ${pooled} % pooled, per profile ${each.join(", ")} (${range.join("–")})\n`,
  )
  for (const [name, micros] of [...own].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
    process.stdout.write(`  ${((100 * micros) / busy).toFixed(3)} %  ${name}\n`)
  }
}
