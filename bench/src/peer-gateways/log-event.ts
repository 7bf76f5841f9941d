/** Scaling events as one JSON line each, as examples/koa-openfaas-gateway's main.ts logs them. */
export function logEvent(event: object) {
  console.log(JSON.stringify({ time: new Date().toISOString(), ...event }, errorToJson))
}

function errorToJson(_key: string, value: unknown) {
  return value instanceof Error ? { name: value.name, message: value.message } : value
}
