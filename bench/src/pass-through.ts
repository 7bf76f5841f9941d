// The bare apps' middleware of the warm benchmarks, in place of scaleFromZero: it only calls
// next, as scaleFromZero does for a warm request. In a file of its own, so that profiles can
// tell its frame apart (by URL) from the app's handlers.

export function expressPassThrough(_req: unknown, _res: unknown, next: () => void) {
  return next()
}

export function koaPassThrough(_ctx: unknown, next: () => Promise<unknown>) {
  return next()
}

export function honoPassThrough(_c: unknown, next: () => Promise<void>) {
  return next()
}
