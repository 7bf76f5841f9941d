import { createClusterShared } from "@scale-from-zero/core/node"
import { runSharedActivityContract } from "./shared-activity-contract.js"

// core/node's cluster mode, as the primary's own views hold it: the same messages the workers
// send over IPC (cloned, answered asynchronously), on the primary's one state. Real workers
// run in core's src/node/cluster.test.ts.
runSharedActivityContract("node:cluster shared state (in the primary)", () => {
  const one = createClusterShared()
  const two = createClusterShared()
  return {
    instances: [one.sharedActivity, two.sharedActivity],
    async cleanup() {
      one.close()
      two.close()
    },
  }
})
