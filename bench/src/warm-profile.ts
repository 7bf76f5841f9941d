// Our share of a loaded warm server's CPU profile, per adapter, and where it goes, beside the
// share of the bare app's middleware that only calls next (profiled in between):
// `warm-profile.ts [SECONDS] [ROUNDS] [--no-inlining] [--polled] [FRAMEWORK…]`. Each round profiles a fresh
// middleware server once warm (a sample every 100 µs) under autocannon; prints every profile's
// share, the share of all samples pooled, and our functions' own shares, largest first. V8 charges
// an inlined function to its caller (the framework's `next` inlined into our middleware counts
// as ours; ours inlined into the framework's router counts as theirs): `--no-inlining` profiles
// servers with TurboFan inlining off, where every function's own time is its own. `--polled`:
// the service's status is read from a backend without push (the warm check reads the clock),
// not kept right by its pushes. Each share is given by time and by samples (each counted once):
// on shared cores a server descheduled for a while charges that pause to the function its next
// sample lands in.
import { profileShares } from "./warm.js"

const args = process.argv.slice(2)
const inlining = !args.includes("--no-inlining")
const entry = args.includes("--polled") ? "polled" : "watched"
const [secondsArg = "3", roundsArg = "3", ...named] = args.filter((a) => !a.startsWith("--"))
const frameworks = named.length > 0 ? named : ["express", "koa", "hono"]
for (const framework of frameworks) {
  const {
    pooled,
    range,
    passThrough,
    pooledBySamples,
    rangeBySamples,
    passThroughBySamples,
    shares,
  } = await profileShares(framework, Number(secondsArg), Number(roundsArg), { inlining, entry })
  // Our functions' own shares, by samples (the steadier measure), all profiles pooled.
  const own = new Map<string, number>()
  let busy = 0
  for (const share of shares) {
    busy += share.busySamples
    for (const [name, count] of share.oursBySamples) own.set(name, (own.get(name) ?? 0) + count)
  }
  const each = shares.map((s) => ((100 * s.oursMicros) / s.busyMicros).toFixed(2))
  const eachBySamples = shares.map((s) => ((100 * s.oursSamples) / s.busySamples).toFixed(2))
  process.stdout.write(
    `${framework} (${entry}${inlining ? "" : ", inlining off"}): ${pooled} % pooled, per profile ${each.join(", ")} (${range.join("–")}); the bare app's pass-through middleware ${passThrough} %\n` +
      `  by samples: ${pooledBySamples} % pooled, per profile ${eachBySamples.join(", ")} (${rangeBySamples.join("–")}); pass-through ${passThroughBySamples} %\n`,
  )
  for (const [name, count] of [...own].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
    process.stdout.write(`  ${((100 * count) / busy).toFixed(3)} %  ${name}\n`)
  }
}
