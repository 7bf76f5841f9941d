/**
 * What a test file reads of the servers its project's globalSetup started
 * (kube-apiserver-setup.ts, faas-netes-setup.ts).
 */
import { inject } from "vitest"
import type {} from "./faas-netes-setup.js"
import type { FaasNetesHandle, KubeApiServerHandle } from "./kube-apiserver.js"
import type {} from "./kube-apiserver-setup.js"

/** The project's real kube-apiserver, or why its tests are skipped. */
export function useKubeApiServer(): KubeApiServerHandle {
  return inject("kubeApiServer") ?? { skipped: "the project has no kube-apiserver globalSetup" }
}

/** The project's real faas-netes, or why its tests are skipped. */
export function useFaasNetes(): FaasNetesHandle {
  return inject("faasNetes") ?? { skipped: "the project has no faas-netes globalSetup" }
}
