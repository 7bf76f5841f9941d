/**
 * Vitest globalSetup: one real faas-netes (on its own real kube-apiserver) for a project's whole
 * run. Tests read it with `useFaasNetes()` (kube-apiserver-inject.ts). Under CI=true a server that
 * cannot start fails the run; elsewhere its tests are skipped with the reason printed here.
 */
import type { TestProject } from "vitest/node"
import {
  type FaasNetesHandle,
  kubeApiServerProblem,
  type StartedFaasNetes,
  startFaasNetes,
} from "./kube-apiserver.js"

declare module "vitest" {
  export interface ProvidedContext {
    faasNetes: FaasNetesHandle
  }
}

export default async function setup(project: TestProject) {
  const skip = (why: string) => {
    if (process.env.CI === "true") throw new Error(`CI needs a real faas-netes: ${why}`)
    console.warn(`skipping the tests against a real faas-netes: ${why}`)
    project.provide("faasNetes", { skipped: why })
  }
  const problem = await kubeApiServerProblem()
  if (problem !== undefined) return skip(problem)
  let server: StartedFaasNetes
  try {
    server = await startFaasNetes()
  } catch (error) {
    return skip(`faas-netes did not start: ${(error as Error).message}`)
  }
  const { url, kubeconfigPath, namespace, basicAuth } = server
  project.provide("faasNetes", { url, kubeconfigPath, namespace, basicAuth })
  return () => server.stop()
}
