/**
 * Vitest globalSetup: one real kube-apiserver for a project's whole run. Tests read it with
 * `useKubeApiServer()` (kube-apiserver-inject.ts). Under CI=true a server that cannot start
 * fails the run; elsewhere its tests are skipped with the reason printed here.
 */
import type { TestProject } from "vitest/node"
import {
  type KubeApiServerHandle,
  kubeApiServerProblem,
  type StartedKubeApiServer,
  startKubeApiServer,
} from "./kube-apiserver.js"

declare module "vitest" {
  export interface ProvidedContext {
    kubeApiServer: KubeApiServerHandle
  }
}

export default async function setup(project: TestProject) {
  const problem = await kubeApiServerProblem()
  if (problem !== undefined) {
    if (process.env.CI === "true") throw new Error(`CI needs a real kube-apiserver: ${problem}`)
    console.warn(`skipping the tests against a real kube-apiserver: ${problem}`)
    project.provide("kubeApiServer", { skipped: problem })
    return
  }
  let server: StartedKubeApiServer
  try {
    server = await startKubeApiServer()
  } catch (error) {
    const why = `kube-apiserver did not start: ${(error as Error).message}`
    if (process.env.CI === "true") throw new Error(why)
    console.warn(`skipping the tests against a real kube-apiserver: ${why}`)
    project.provide("kubeApiServer", { skipped: why })
    return
  }
  project.provide("kubeApiServer", { kubeconfigPath: server.kubeconfigPath })
  return () => server.stop()
}
