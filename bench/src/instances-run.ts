// `pnpm --filter ./bench instances`: only section 3b (gateway instances' cold start), full settings.
import { type InstancesColdStart, measureInstancesColdStart } from "./instances.js"
import { instancesTable } from "./report.js"

const rows: InstancesColdStart[] = []
for (const instances of [1, 3, 10]) {
  for (const shared of [false, true]) {
    const result = await measureInstancesColdStart(instances, shared, 300, 3000)
    if (result !== undefined) rows.push(result)
    process.stdout.write(
      `${JSON.stringify(result ?? { instances, shared, skipped: "no Redis" })}\n`,
    )
  }
}
process.stdout.write(`\n${instancesTable(rows)}\n`)
