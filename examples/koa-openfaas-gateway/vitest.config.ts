import { defineProject, mergeConfig } from "vitest/config"
import { sharedProject } from "../../vitest.shared.js"

export default mergeConfig(
  sharedProject,
  defineProject({
    test: {
      name: "koa-openfaas-gateway",
      // One real faas-netes (on a real kube-apiserver) for the whole run.
      globalSetup: ["../../packages/test-kit/src/faas-netes-setup.ts"],
    },
  }),
)
