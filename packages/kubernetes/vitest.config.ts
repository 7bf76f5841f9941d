import { defineProject, mergeConfig } from "vitest/config"
import { sharedProject } from "../../vitest.shared.js"

export default mergeConfig(
  sharedProject,
  defineProject({
    test: {
      name: "kubernetes",
      // One real kube-apiserver for the whole run; each test takes a fresh namespace.
      globalSetup: ["../test-kit/src/kube-apiserver-setup.ts"],
    },
  }),
)
