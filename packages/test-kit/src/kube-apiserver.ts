/**
 * A REAL Kubernetes API server for tests: kube-apiserver v1.26.4 and Debian's etcd, started from
 * the shared folder's `kube-apiserver/run.sh` (and faas-netes from `faas-netes/run.sh`) on free
 * ports, stopped by the pids their state folder records. No controllers run: a test plays the
 * controller (see kube-controller.ts).
 *
 * One server per Vitest project run: `kube-apiserver-setup.ts` (a globalSetup) starts it and
 * hands its kubeconfig to the tests through `inject("kubeApiServer")`; `useKubeApiServer()`
 * reads it in a test file. Outside CI a missing shared folder or etcd skips those tests with
 * the reason printed; under CI=true the setup fails.
 */
import { execFile } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync, readFileSync, rmSync } from "node:fs"
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises"
import { request as httpsRequest } from "node:https"
import { connect, createServer, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import {
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1PolicyRule,
} from "@kubernetes/client-node"
import { collectJsonAnswer } from "./json-answer.js"

const run = promisify(execFile)
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..")

/** What the tests of one project run against: a kubeconfig, or the reason they are skipped. */
export type KubeApiServerHandle =
  | { kubeconfigPath: string; skipped?: undefined }
  | { kubeconfigPath?: undefined; skipped: string }

/** The same for faas-netes, which runs on its own kube-apiserver. */
export type FaasNetesHandle =
  | {
      url: string
      kubeconfigPath: string
      namespace: string
      basicAuth: { user: string; password: string }
      skipped?: undefined
    }
  | {
      url?: undefined
      kubeconfigPath?: undefined
      namespace?: undefined
      basicAuth?: undefined
      skipped: string
    }

/** The shared folder: $SFZ_SHARED_DIR, else `<repo>/../shared`, else /work/shared. */
export function sharedDir(): string | undefined {
  const candidates = [process.env.SFZ_SHARED_DIR, join(REPO, "../shared"), "/work/shared"]
  return candidates.find(
    (dir): dir is string => !!dir && existsSync(join(dir, "kube-apiserver/run.sh")),
  )
}

/** Why the real server cannot start here, or undefined. */
export async function kubeApiServerProblem(): Promise<string | undefined> {
  const shared = sharedDir()
  if (shared === undefined) {
    return "no shared folder with kube-apiserver/run.sh (looked at $SFZ_SHARED_DIR, <repo>/../shared, /work/shared)"
  }
  if (process.env.ETCD_BIN === undefined) {
    try {
      await run("sh", ["-c", "command -v etcd"])
    } catch {
      return "etcd is not installed (run .ci/setup-kube.sh as root: apt-get install etcd-server)"
    }
  }
  return undefined
}

/** Distinct ports free right now on 127.0.0.1 (held together, so no two are the same). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<import("node:net").Server>((done, fail) => {
          const server = createServer()
          server.once("error", fail)
          server.listen(0, "127.0.0.1", () => done(server))
        }),
    ),
  )
  const ports = servers.map((server) => (server.address() as import("node:net").AddressInfo).port)
  await Promise.all(servers.map((server) => new Promise((done) => server.close(done))))
  return ports
}

/** Ended, or a zombie left to an init process that does not reap it (kill -0 still answers for those). */
function exited(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return true
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.startsWith("Z") ?? false
  } catch {
    return true
  }
}

/**
 * Stops the process whose pid `pidFile` records: `terms` SIGTERMs, up to 5 s to exit, then
 * SIGKILL; removes the file, so that the shared stop scripts (which wait on `kill -0`, which a
 * zombie passes) find nothing left to stop.
 */
async function stopRecorded(pidFile: string, terms = 1): Promise<void> {
  let pid: number
  try {
    pid = Number(readFileSync(pidFile, "utf8").trim())
  } catch {
    return
  }
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(pid, name)
    } catch {
      // already gone
    }
  }
  for (let i = 0; i < terms && !exited(pid); i++) {
    signal("SIGTERM")
    await sleep(200)
  }
  for (let waited = 0; waited < 5_000 && !exited(pid); waited += 50) await sleep(50)
  if (!exited(pid)) signal("SIGKILL")
  rmSync(pidFile, { force: true })
}

/**
 * The binary `xz` beside the shared scripts, unpacked where they unpack it (`$TMPDIR/DIR/NAME`).
 * Unpacked to a file of its own and renamed into place: several projects' setups starting at once
 * must not write one file while another executes it.
 */
async function unpacked(xzFile: string, dir: string, name: string): Promise<string> {
  const target = join(process.env.TMPDIR ?? "/tmp", dir, name)
  if (existsSync(target)) return target
  await mkdir(dirname(target), { recursive: true })
  const part = `${target}.part-${process.pid}-${randomBytes(3).toString("hex")}`
  await run("sh", ["-c", 'xz -dc "$1" > "$2" && chmod +x "$2"', "unpack", xzFile, part], {
    timeout: 120_000,
  })
  await rename(part, target)
  return target
}

const kubeApiServerBinary = async (shared: string) =>
  process.env.KAS_BIN ??
  unpacked(
    join(shared, "kube-apiserver/kube-apiserver.xz"),
    "kube-apiserver-1.26.4",
    "kube-apiserver",
  )

export interface StartedKubeApiServer {
  kubeconfigPath: string
  stateDir: string
  /** The API server's port on 127.0.0.1. */
  port: number
  /**
   * Stops etcd and kube-apiserver and starts them again on the same ports and data: objects and
   * ServiceAccount tokens survive, the kubeconfig's static tokens are new (load it again).
   */
  restart(): Promise<void>
  stop(): Promise<void>
}

/** Starts etcd + kube-apiserver on free ports; `stop()` ends both by their recorded pids. */
export async function startKubeApiServer(): Promise<StartedKubeApiServer> {
  const shared = sharedDir()
  if (shared === undefined) throw new Error("no shared folder with kube-apiserver/run.sh")
  const [kasPort, etcdPort, peerPort] = (await freePorts(3)) as [number, number, number]
  const env = {
    ...process.env,
    KAS_BIN: await kubeApiServerBinary(shared),
    KAS_PORT: String(kasPort),
    ETCD_PORT: String(etcdPort),
    ETCD_PEER_PORT: String(peerPort),
    KAS_READY_TIMEOUT: "60",
  }
  const start = async (stateDir?: string) => {
    const { stdout } = await run(join(shared, "kube-apiserver/run.sh"), [], {
      env: stateDir === undefined ? env : { ...env, KAS_STATE_DIR: stateDir },
      timeout: 120_000,
    })
    return stdout.trim().split("\n").at(-1) ?? ""
  }
  const kubeconfigPath = await start()
  const stateDir = dirname(kubeconfigPath)
  const stop = async (remove: boolean) => {
    await stopRecorded(join(stateDir, "kube-apiserver.pid"))
    await stopRecorded(join(stateDir, "etcd.pid"))
    await run(join(shared, "kube-apiserver/stop.sh"), remove ? [stateDir, "--rm"] : [stateDir], {
      timeout: 30_000,
    })
  }
  return {
    kubeconfigPath,
    stateDir,
    port: kasPort,
    async restart() {
      await stop(false)
      await start(stateDir)
    },
    stop: () => stop(true),
  }
}

export interface StartedFaasNetes {
  url: string
  kubeconfigPath: string
  namespace: string
  /** faas-netes runs with basic auth on, as an OpenFaaS installation does. */
  basicAuth: { user: string; password: string }
  stop(): Promise<void>
}

/**
 * Starts kube-apiserver and faas-netes on free ports (faas-netes/run.sh) with basic auth on
 * (faas-provider's `basic_auth` and `secret_mount_path`); `stop()` ends all three.
 */
export async function startFaasNetes(): Promise<StartedFaasNetes> {
  const shared = sharedDir()
  if (shared === undefined || !existsSync(join(shared, "faas-netes/run.sh"))) {
    throw new Error("no shared folder with faas-netes/run.sh")
  }
  const [fnPort, kasPort, etcdPort, peerPort] = await freePorts(4)
  const namespace = "openfaas-fn"
  const secrets = await mkdtemp(join(tmpdir(), "sfz-faas-secrets-"))
  const basicAuth = { user: "admin", password: randomBytes(12).toString("hex") }
  await writeFile(join(secrets, "basic-auth-user"), basicAuth.user)
  await writeFile(join(secrets, "basic-auth-password"), basicAuth.password)
  const { stdout } = await run(join(shared, "faas-netes/run.sh"), ["start"], {
    env: {
      ...process.env,
      KAS_BIN: await kubeApiServerBinary(shared),
      FAAS_NETES_BIN:
        process.env.FAAS_NETES_BIN ??
        (await unpacked(
          join(shared, "faas-netes/faas-netes.xz"),
          "faas-netes-1241e363",
          "faas-netes",
        )),
      FN_PORT: String(fnPort),
      KAS_PORT: String(kasPort),
      ETCD_PORT: String(etcdPort),
      ETCD_PEER_PORT: String(peerPort),
      FN_NAMESPACE: namespace,
      basic_auth: "true",
      secret_mount_path: secrets,
    },
    timeout: 120_000,
  })
  const values = Object.fromEntries(
    stdout
      .trim()
      .split("\n")
      .map((line) => line.split("=", 2) as [string, string]),
  )
  const stateDir = values.FN_STATE_DIR ?? ""
  return {
    url: values.FAAS_NETES_URL ?? "",
    kubeconfigPath: values.KUBECONFIG ?? "",
    namespace,
    basicAuth,
    async stop() {
      // faas-netes exits on its second SIGTERM (the first only stops its informers).
      await stopRecorded(join(stateDir, "faas-netes.pid"), 2)
      await stopRecorded(join(stateDir, "kas/kube-apiserver.pid"))
      await stopRecorded(join(stateDir, "kas/etcd.pid"))
      await run(join(shared, "faas-netes/run.sh"), ["stop", stateDir], { timeout: 30_000 })
      // run.sh stop removes the API server's state, not its own (log, kubeconfig path).
      await rm(stateDir, { recursive: true, force: true })
      await rm(secrets, { recursive: true, force: true })
    },
  }
}

/** A KubeConfig of the server's kubeconfig, as `admin` (system:masters) or `restricted` (no grants). */
export function loadKubeConfig(
  kubeconfigPath: string,
  context: "admin" | "restricted" = "admin",
): KubeConfig {
  const kubeConfig = new KubeConfig()
  kubeConfig.loadFromFile(kubeconfigPath)
  kubeConfig.setCurrentContext(context)
  return kubeConfig
}

/** A KubeConfig for the same server that authenticates with `token` (e.g. a ServiceAccount's). */
export function kubeConfigWithToken(admin: KubeConfig, token: string, user = "token"): KubeConfig {
  const cluster = admin.getCurrentCluster()
  if (cluster === null) throw new Error("the kubeconfig has no current cluster")
  const kubeConfig = new KubeConfig()
  kubeConfig.loadFromOptions({
    clusters: [cluster],
    users: [{ name: user, token }],
    contexts: [{ name: user, cluster: cluster.name, user }],
    currentContext: user,
  })
  return kubeConfig
}

/** Creates a namespace no other test uses (a deleted one stays Terminating without controllers). */
export async function freshNamespace(admin: KubeConfig, prefix = "sfz"): Promise<string> {
  const name = `${prefix}-${randomBytes(4).toString("hex")}`
  await admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } })
  return name
}

/** Grants `user` exactly `rules` in `namespace` through a Role and RoleBinding named `name`. */
export async function grant(
  admin: KubeConfig,
  namespace: string,
  user: string,
  rules: V1PolicyRule[],
  name = `grant-${randomBytes(3).toString("hex")}`,
): Promise<void> {
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api)
  await rbac.createNamespacedRole({ namespace, body: { metadata: { name }, rules } })
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }],
    },
  })
}

export interface KubeResponse {
  status: number
  // biome-ignore lint/suspicious/noExplicitAny: API objects of every shape
  body: any
}

/**
 * A raw API request with the kubeconfig's credentials, for test setup and for reading exactly
 * what the server sends (fields it omits, status codes). Bounded by `timeoutMs`.
 */
export async function kubeRequest(
  kubeConfig: KubeConfig,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
  timeoutMs = 10_000,
): Promise<KubeResponse> {
  const cluster = kubeConfig.getCurrentCluster()
  if (cluster === null) throw new Error("the kubeconfig has no current cluster")
  const options: import("node:https").RequestOptions = {}
  await kubeConfig.applyToHTTPSOptions(options)
  const url = new URL(path, cluster.server)
  const payload = body === undefined ? undefined : JSON.stringify(body)
  return new Promise((done, fail) => {
    const request = httpsRequest(
      url,
      {
        ...options,
        method,
        headers: {
          ...options.headers,
          accept: "application/json",
          ...(payload !== undefined && { "content-type": contentType }),
        },
        timeout: timeoutMs,
      },
      (response) => collectJsonAnswer(response, done),
    )
    request.on("timeout", () => request.destroy(new Error(`${method} ${path} timed out`)))
    request.on("error", fail)
    request.end(payload)
  })
}

/** Like kubeRequest, but a status of 300 or more throws with the server's message. */
export async function kube(
  kubeConfig: KubeConfig,
  method: string,
  path: string,
  body?: unknown,
  contentType?: string,
): Promise<KubeResponse["body"]> {
  const response = await kubeRequest(kubeConfig, method, path, body, contentType)
  if (response.status >= 300) {
    throw new Error(
      `${method} ${path} answered ${response.status}: ${response.body?.message ?? JSON.stringify(response.body)}`,
    )
  }
  return response.body
}

/** One API call the provider made through a RecordingKubeConfig (watches are not API-client calls). */
export interface SentRequest {
  method: string
  path: string
  query: URLSearchParams
}

/**
 * A KubeConfig that records each API-client request before it leaves, and may run `beforeSend`
 * first: a second writer slipped between a provider's read and its write, for example.
 */
export class RecordingKubeConfig extends KubeConfig {
  readonly sent: SentRequest[] = []
  beforeSend: ((request: SentRequest) => Promise<void> | void) | undefined

  static from(kubeConfig: KubeConfig): RecordingKubeConfig {
    const copy = new RecordingKubeConfig()
    copy.loadFromString(kubeConfig.exportConfig())
    return copy
  }

  override async applySecurityAuthentication(
    context: Parameters<KubeConfig["applySecurityAuthentication"]>[0],
  ): Promise<void> {
    const url = new URL(context.getUrl())
    const request = { method: context.getHttpMethod(), path: url.pathname, query: url.searchParams }
    this.sent.push(request)
    await this.beforeSend?.(request)
    await super.applySecurityAuthentication(context)
  }
}

/**
 * A ServiceAccount's token from the TokenRequest API (what a pod's projected token holds),
 * creating the ServiceAccount first unless `create` is false.
 */
export async function serviceAccountToken(
  admin: KubeConfig,
  namespace: string,
  name: string,
  create = true,
): Promise<string> {
  const accounts = `/api/v1/namespaces/${namespace}/serviceaccounts`
  if (create) await kube(admin, "POST", accounts, { metadata: { name } })
  const review = await kube(admin, "POST", `${accounts}/${name}/token`, {
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenRequest",
    spec: { expirationSeconds: 3600 },
  })
  return review.status.token
}

export interface GatedProxy {
  port: number
  /** New connections wait (their bytes buffered) until `open()`. */
  hold(): void
  open(): void
  close(): Promise<void>
}

/**
 * A TCP proxy to 127.0.0.1:`targetPort` (TLS passes through untouched). While held, it accepts
 * connections but forwards them only once opened: a client's request then reaches a server
 * that has restarted meanwhile, as after an API server upgrade behind a load balancer.
 */
export async function startGatedProxy(targetPort: number): Promise<GatedProxy> {
  let gate: { promise: Promise<void>; open(): void } | undefined
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    sockets.add(client)
    client.on("close", () => sockets.delete(client))
    client.on("error", () => client.destroy())
    client.pause()
    void (gate?.promise ?? Promise.resolve()).then(() => {
      if (client.destroyed) return
      const upstream = connect(targetPort, "127.0.0.1")
      sockets.add(upstream)
      upstream.on("close", () => {
        sockets.delete(upstream)
        client.destroy()
      })
      upstream.on("error", () => upstream.destroy())
      client.on("close", () => upstream.destroy())
      client.pipe(upstream)
      upstream.pipe(client)
      client.resume()
    })
  })
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done))
  return {
    port: (server.address() as import("node:net").AddressInfo).port,
    hold() {
      let open = () => {}
      const promise = new Promise<void>((done) => {
        open = done
      })
      gate = { promise, open }
    },
    open() {
      gate?.open()
      gate = undefined
    },
    async close() {
      gate?.open()
      for (const socket of sockets) socket.destroy()
      await new Promise((done) => server.close(done))
    },
  }
}

/** A function as faas-netes deploys it (`POST /system/functions`). */
export interface FaasFunction {
  service: string
  image?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
}

/**
 * Deploys a function through faas-netes' own API (`POST /system/functions`: it creates the
 * Deployment at 1 replica and the Service) and waits until faas-netes' cache reports it.
 */
export async function deployFunction(
  url: string,
  basicAuth: { user: string; password: string },
  namespace: string,
  definition: FaasFunction,
): Promise<void> {
  const authorization = `Basic ${Buffer.from(`${basicAuth.user}:${basicAuth.password}`).toString("base64")}`
  const deployed = await fetch(`${url}/system/functions`, {
    method: "POST",
    headers: { authorization, "content-type": "application/json" },
    body: JSON.stringify({ image: "registry.example/fn:1", namespace, ...definition }),
  })
  if (deployed.status !== 202) {
    throw new Error(
      `deploying ${definition.service} answered ${deployed.status}: ${await deployed.text()}`,
    )
  }
  const deadline = Date.now() + 5_000
  for (;;) {
    const status = await fetch(
      `${url}/system/function/${definition.service}?namespace=${namespace}`,
      { headers: { authorization } },
    )
    await status.arrayBuffer()
    if (status.status === 200) return
    if (Date.now() > deadline) throw new Error(`faas-netes did not list ${definition.service}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
