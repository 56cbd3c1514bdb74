// Package local is faultline's embedded engine: an environment that behaves
// like a small Kubernetes cluster, made of real processes on this machine.
//
// A Supervisor runs one faultline.dev/v1alpha1 Environment:
//
//   - Replicas. Each service runs as N replicas named <service>-<ordinal>,
//     each a "pod" with a namespace, labels, a node, a phase and a ready
//     flag, and one process per container (the main one, named after the
//     service, plus sidecars). Processes get their own process group, their
//     own port ($PORT), their names ($REPLICA_NAME, $NODE_NAME,
//     $POD_NAMESPACE) and each dependency's URL ($<DEP>_URL); their output
//     goes to <state>/envs/<env>/logs/<replica>.log, the previous run's to
//     .log.1.
//   - Cgroups. Every replica gets a cgroup (faultline/<env>/<replica>, v1 or
//     v2, see internal/cgroup) with the service's CPU and memory limits;
//     faults act and measure inside it. Without root the environment runs
//     without cgroups and says so.
//   - Probes and restarts like kubelet: readiness, liveness (httpGet,
//     tcpSocket, exec), restart policies Always/OnFailure/Never, restart
//     back-off (immediate, then 10 s doubling to 5 min, reset after 10 min
//     of running) shown as CrashLoopBackOff, graceful stop (SIGTERM, grace
//     period, SIGKILL).
//   - Gateways like Services: one listening socket per service on 127.0.0.1
//     that balances new connections round-robin over ready replicas only,
//     and resets a connection at once when none is ready. A replica reaches
//     a dependency through its own listener for that dependency (the URL in
//     $<DEP>_URL), which balances the same way; so every hop of the data
//     path is a proxy this package owns, and network faults plug into it
//     with an Interceptor. Idle proxies splice(2) in both directions.
//   - Nodes. Replicas spread over Ready, schedulable nodes, least loaded
//     first. A node that goes down takes its replicas with it (SIGKILL);
//     after the eviction delay they are recreated elsewhere with the same
//     names (StatefulSet-like: a new incarnation, new UID, restart count 0).
//     Drain evicts gracefully, one replica per service at a time.
//
// Crash safety. Replica processes are started with Pdeathsig=SIGKILL from
// one goroutine locked to its OS thread (see spawner), so a supervisor that
// dies, even by SIGKILL, takes its replicas along. Its state file
// (<state>/envs/<env>/state.json: owner, socket, each process's PID and
// start time, cgroups) lets Cleanup remove anything left, touching only
// processes whose PID and start time still match.
//
// Control. The supervisor serves HTTP on a unix socket
// (<state>/envs/<env>/control.sock, see Server for the routes); Client
// wraps it, so `faultline env status`, `faultline inject` and experiments
// drive an environment running in another process.
package local
