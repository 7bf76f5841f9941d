import type { GateRequest, RequestPredicate } from "./gate.js"

/**
 * User agents of health checks and uptime monitors: Kubernetes probes, AWS and Google Cloud
 * load balancers, UptimeRobot, Pingdom, Better Stack (Better Uptime), Prometheus's blackbox
 * exporter.
 */
const MONITOR_USER_AGENT =
  /kube-probe\/|ELB-HealthChecker\/|GoogleHC\/|UptimeRobot\/|Pingdom\.com_bot|Better ?(?:Stack|Uptime)|Blackbox Exporter\//i

/** True for a request from a known health check or uptime monitor (by its User-Agent). */
export function isMonitoringRequest(request: GateRequest): boolean {
  const userAgent = request.headers.get("user-agent")
  return userAgent !== null && userAgent !== undefined && MONITOR_USER_AGENT.test(userAgent)
}

/**
 * For `wake` and `keepsAwake`: false for monitoring traffic, so probes neither start a
 * sleeping service nor keep an idle one up. HEAD and OPTIONS requests are not singled out.
 */
export const notMonitoring: RequestPredicate = (request) => !isMonitoringRequest(request)
