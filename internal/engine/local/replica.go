package local

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/envref"
	"github.com/faultline-dev/faultline/internal/packet"
)

// replica is one "pod": a service's replica with its containers, placed on
// a node. All fields are guarded by Supervisor.mu.
type replica struct {
	name      string
	namespace string
	svc       *service
	ordinal   int
	port      int
	// egress are the replica's listeners for its dependencies, in the
	// order of the service's dependsOn; their ports outlive restarts and
	// rescheduling, so the <DEP>_URL a process was given stays valid.
	egress []*listener
	// net is the replica's network namespace (Options.NetworkNamespaces),
	// nil when it shares the host's network; like egress it outlives
	// restarts and rescheduling.
	net *packet.Namespace

	// Per incarnation: a rescheduled replica is a new pod with the same
	// name (like a StatefulSet pod recreated elsewhere): new UID, new
	// creation time, restart counts from zero.
	uid        string
	created    time.Time
	node       string
	containers []*container
	cg         *replicaCgroup
	// active is true once the containers were started on the node.
	active bool

	phase, status string
	ready         bool
	frozen        bool
	deleting      bool
	// resurrect asks a replica that is being deleted by a scale-down to be
	// recreated once stopped (a scale-up came in the meantime).
	resurrect bool
	nodeLost  bool
	evictGen  int
	// shownStatus is the status the last event of the replica carried, so
	// that a status change is reported once.
	shownStatus string
	// stopWaiters are closed, and onStopped run, once no container runs.
	stopWaiters []chan struct{}
	onStopped   []func()

	// override changes how the main container starts (model faults, see
	// replica_override.go); it outlives restarts and incarnations.
	override *ReplicaOverride
	// lastReadyAfter is how long the main container's latest run took from
	// its start to ready.
	lastReadyAfter time.Duration
}

// container is one process of a replica.
type container struct {
	plan    *containerPlan
	main    bool
	logPath string

	state, reason string
	gen           uint64 // incremented on each start; callbacks of older runs are ignored
	cmd           *exec.Cmd
	pid           int
	startTime     uint64
	startedAt     time.Time
	everStarted   bool
	restarts      int
	bo            backoff
	backoffDelay  time.Duration
	restartTimer  *time.Timer
	killTimer     *time.Timer
	lastCode      *int
	lastSignal    string
	lastFinished  time.Time

	// ready is the readiness probe's verdict (true without a probe);
	// startupDone is false until the startup probe passes.
	ready       bool
	startupDone bool
	probeCancel context.CancelFunc
	probeCtx    context.Context
	// stopping means: do not restart when the process exits.
	stopping bool
}

func (s *Supervisor) newContainers(r *replica) []*container {
	sp := r.svc.plan
	bo := backoff{base: s.opts.BackoffBase, max: s.opts.BackoffMax, reset: s.opts.BackoffReset}
	if sp.backoffBase > 0 {
		bo.base = sp.backoffBase
	}
	if sp.backoffMax > 0 {
		bo.max = sp.backoffMax
	}
	if bo.max < bo.base {
		bo.max = bo.base
	}
	if sp.backoffReset > 0 {
		bo.reset = sp.backoffReset
	}
	out := make([]*container, 0, len(sp.containers))
	for i, cp := range sp.containers {
		out = append(out, &container{plan: cp, main: i == 0, state: StateWaiting, reason: ReasonContainerCreating,
			logPath: logFile(filepath.Join(s.dir, "logs"), r.name, cp.name, i == 0), bo: bo})
	}
	return out
}

// allocPortLocked picks the port of a new replica: the spec's fixed port
// plus the ordinal, or a free one.
func (s *Supervisor) allocPortLocked(svc *service, ordinal int) (int, error) {
	if svc.plan.replicaPort != 0 {
		p := svc.plan.replicaPort + ordinal
		if s.ports[p] {
			return 0, fmt.Errorf("service %s: replica %s: port %d is already used by this environment", svc.plan.name, replicaName(svc.plan.name, ordinal), p)
		}
		if err := checkPort(p); err != nil {
			return 0, fmt.Errorf("service %s: replica %s: %w", svc.plan.name, replicaName(svc.plan.name, ordinal), err)
		}
		s.ports[p] = true
		return p, nil
	}
	for range 100 {
		p, err := freePort()
		if err != nil {
			return 0, err
		}
		if !s.ports[p] {
			s.ports[p] = true
			return p, nil
		}
	}
	return 0, fmt.Errorf("service %s: no free port found for replica %s", svc.plan.name, replicaName(svc.plan.name, ordinal))
}

// addReplicaLocked creates replica <service>-<ordinal>, places it and, when
// its service has started, starts it.
func (s *Supervisor) addReplicaLocked(svc *service, ordinal int) (*replica, error) {
	name := replicaName(svc.plan.name, ordinal)
	port, err := s.allocPortLocked(svc, ordinal)
	if err != nil {
		return nil, err
	}
	r := &replica{name: name, namespace: s.plan.namespace, svc: svc, ordinal: ordinal, port: port, uid: newUID(), created: time.Now()}
	// The namespace first: the egress listeners listen on its host side.
	if err := s.createNetnsLocked(r); err != nil {
		s.releaseReplicaLocked(r)
		return nil, err
	}
	for _, dep := range svc.plan.dependsOn {
		dsvc, err := s.serviceLocked(dep)
		if err != nil {
			s.releaseReplicaLocked(r)
			return nil, err
		}
		l, err := s.px.listenOn(r.hostIP(), 0, dsvc.bal, HopEgress, name, svc.plan.name, r.net != nil)
		if err != nil {
			s.releaseReplicaLocked(r)
			return nil, fmt.Errorf("replica %s: open the listener for dependency %s: %w", name, dep, err)
		}
		s.ports[l.port()] = true
		r.egress = append(r.egress, l)
	}
	r.containers = s.newContainers(r)
	s.replicas[name] = r
	if s.scheduleLocked(r) && svc.started {
		s.startReplicaLocked(r)
	}
	s.refreshLocked(r)
	return r, nil
}

// releaseReplicaLocked frees a replica's ports and listeners.
func (s *Supervisor) releaseReplicaLocked(r *replica) {
	for _, l := range r.egress {
		delete(s.ports, l.port())
		l.close()
	}
	r.egress = nil
	delete(s.ports, r.port)
	if err := s.removeNetnsLocked(r); err != nil {
		s.emitReplicaLocked(r, "Warning", err.Error(), "")
	}
}

// removeReplicaLocked deletes a stopped replica for good (scale-down).
func (s *Supervisor) removeReplicaLocked(r *replica) {
	s.releaseReplicaLocked(r)
	if r.cg != nil {
		_ = r.cg.kill()
		if err := r.cg.remove(); err != nil {
			s.emitReplicaLocked(r, "Warning", err.Error(), "")
		}
		r.cg = nil
	}
	delete(s.replicas, r.name)
	s.emitReplicaLocked(r, "Deleted", "", "")
	s.syncEndpointsLocked(r.svc)
	s.persistLocked()
	s.notifyLocked()
}

// startReplicaLocked starts every container of a placed replica.
func (s *Supervisor) startReplicaLocked(r *replica) {
	if r.node == "" || r.active || r.deleting {
		return
	}
	r.active = true
	if r.cg == nil && s.cg.available() {
		cg, err := s.cg.create(r.name, r.svc.plan.cpuCores, r.svc.plan.memoryBytes)
		if err != nil {
			s.emitReplicaLocked(r, "Warning", "running without a cgroup: "+err.Error(), "")
		} else {
			r.cg = cg
		}
	}
	for _, c := range r.containers {
		s.startContainerLocked(r, c)
	}
}

// containerEnv is the environment of a container process: the
// supervisor's own (for PATH, HOME and the like, as a process started from
// a shell would have), then what the downward API and service links would
// give a pod — its port, names, node and each dependency's URL —, then the
// spec's variables, which may refer to all of these with $(NAME) and
// override them. It also returns the expanded argv.
func (s *Supervisor) containerEnv(r *replica, c *container) (env, argv []string) {
	vars := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			set(k, v)
		}
	}
	sp := r.svc.plan
	set(sp.portEnv, strconv.Itoa(r.port))
	set("REPLICA_NAME", r.name)
	set("POD_NAME", r.name)
	set("POD_NAMESPACE", r.namespace)
	set("POD_IP", r.podIP())
	set("POD_UID", r.uid)
	set("NODE_NAME", r.node)
	set("SERVICE_NAME", sp.name)
	set("CONTAINER_NAME", c.plan.name)
	set("FAULTLINE_ENVIRONMENT", s.plan.name)
	for i, dep := range sp.dependsOn {
		if i < len(r.egress) {
			set(sp.depEnv[dep], "http://"+r.egress[i].addr())
		}
	}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	for _, e := range c.plan.env {
		set(e.name, envref.Expand(e.value, lookup))
	}
	for _, kv := range r.overrideEnvLocked(c) {
		set(kv[0], kv[1])
	}
	env = make([]string, 0, len(order))
	for _, k := range order {
		env = append(env, k+"="+vars[k])
	}
	argv = make([]string, len(c.plan.argv))
	for i, a := range c.plan.argv {
		argv[i] = envref.Expand(a, lookup)
	}
	return env, argv
}

// envVarName turns a service name into an environment variable prefix:
// "feature-store" → "FEATURE_STORE".
func envVarName(service string) string {
	return strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(service))
}

func (s *Supervisor) startContainerLocked(r *replica, c *container) {
	if c.restartTimer != nil {
		c.restartTimer.Stop()
		c.restartTimer = nil
	}
	c.stopping = false
	c.backoffDelay = 0
	c.gen++
	gen := c.gen
	logf, err := openLog(c.logPath)
	if err != nil {
		s.containerEndedLocked(r, c, 128, "", "cannot open log: "+err.Error())
		return
	}
	env, argv := s.containerEnv(r, c)
	cmd := &exec.Cmd{Path: c.plan.path, Args: argv, Env: env, Dir: c.plan.dir, Stdout: logf, Stderr: logf}
	if r.cg != nil {
		cleanup := r.cg.prepare(cmd)
		defer cleanup()
	}
	// In its network namespace, when it has one (r.netnsPath() "": the
	// host's, as before).
	err = s.sp.startInNS(cmd, r.netnsPath(), r.mountNSLocked(c))
	if err != nil {
		fmt.Fprintf(logf, "faultline: %v\n", err)
		logf.Close()
		s.containerEndedLocked(r, c, 128, "", err.Error())
		return
	}
	// The child holds its own descriptor of the log.
	logf.Close()
	pid := cmd.Process.Pid
	if r.cg != nil {
		if err := r.cg.add(pid); err != nil {
			s.emitReplicaLocked(r, "Warning", fmt.Sprintf("add pid %d to cgroup: %v", pid, err), c.plan.name)
		}
	}
	st, _ := engine.ProcessStartTime(pid)
	if c.everStarted {
		c.restarts++
	}
	c.everStarted = true
	c.cmd, c.pid, c.startTime, c.startedAt = cmd, pid, st, time.Now()
	c.state, c.reason = StateRunning, ""
	c.ready = c.plan.readiness == nil
	c.startupDone = c.plan.startup == nil
	s.emitReplicaLocked(r, "Started", fmt.Sprintf("pid %d on node %s", pid, r.node), c.plan.name)
	s.startProbesLocked(r, c, false)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = cmd.Wait()
		s.onExit(r, c, gen, cmd.ProcessState)
	}()
	s.persistLocked()
}

func (s *Supervisor) onExit(r *replica, c *container, gen uint64, ps *os.ProcessState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.gen != gen || c.state != StateRunning {
		return
	}
	code, sig := -1, ""
	if ps != nil {
		code = ps.ExitCode()
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			sig = ws.Signal().String()
			code = 128 + int(ws.Signal())
		}
	}
	s.containerEndedLocked(r, c, code, sig, "")
}

// containerEndedLocked handles the end of a container's run (or a failed
// start): record it, then restart per policy with back-off.
func (s *Supervisor) containerEndedLocked(r *replica, c *container, code int, sig, startErr string) {
	ran := time.Duration(0)
	if !c.startedAt.IsZero() && c.state == StateRunning {
		ran = time.Since(c.startedAt)
	}
	if c.pid > 0 {
		// Whatever the process left in its group dies with it, as the
		// whole container does in Kubernetes.
		_ = signalGroup(c.pid, syscall.SIGKILL)
	}
	s.stopProbesLocked(c)
	if c.killTimer != nil {
		c.killTimer.Stop()
		c.killTimer = nil
	}
	c.pid, c.startTime, c.cmd = 0, 0, nil
	c.ready = false
	c.state = StateTerminated
	c.lastCode, c.lastSignal, c.lastFinished = &code, sig, time.Now()
	switch {
	case startErr != "":
		c.reason = ReasonStartError
	case code == 0:
		c.reason = ReasonCompleted
	default:
		c.reason = ReasonError
	}
	msg := fmt.Sprintf("exit code %d", code)
	if sig != "" {
		msg += " (" + sig + ")"
	}
	if startErr != "" {
		msg = startErr
	}
	s.emitReplicaLocked(r, "Exited", msg, c.plan.name)
	// Publish the exit before any restart: the replica is not ready in
	// between, even when the restart is immediate, so the gateway stops
	// sending it connections and watchers see NotReady, then Ready.
	s.refreshLocked(r)

	if s.shouldRestartLocked(r, c, code) {
		delay := c.bo.next(ran)
		if delay == 0 {
			s.startContainerLocked(r, c)
		} else {
			c.state, c.reason, c.backoffDelay = StateWaiting, ReasonCrashLoopBackOff, delay
			gen := c.gen
			c.restartTimer = time.AfterFunc(delay, func() { s.restartAfterBackoff(r, c, gen) })
			s.emitReplicaLocked(r, "BackOff", fmt.Sprintf("back-off %s restarting failed container", delay), c.plan.name)
		}
	}
	s.refreshLocked(r)
	s.checkStoppedLocked(r)
}

func (s *Supervisor) restartAfterBackoff(r *replica, c *container, gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.gen != gen || c.state != StateWaiting || c.stopping || r.deleting || r.nodeLost || s.phase != phaseRunning || s.replicas[r.name] != r {
		return
	}
	c.restartTimer = nil
	s.startContainerLocked(r, c)
	s.refreshLocked(r)
}

func (s *Supervisor) shouldRestartLocked(r *replica, c *container, code int) bool {
	if c.stopping || r.deleting || r.nodeLost || !r.active || s.phase != phaseRunning {
		return false
	}
	switch r.svc.plan.restartPolicy {
	case RestartNever:
		return false
	case RestartOnFailure:
		return code != 0
	}
	return true
}

// stopContainerLocked asks a container to stop: SIGTERM to its process
// group, SIGKILL after grace. restart says whether the restart policy
// applies when it exits (liveness failure) or not (stop, eviction).
func (s *Supervisor) stopContainerLocked(r *replica, c *container, grace time.Duration, restart bool) {
	c.stopping = !restart
	if c.state != StateRunning {
		if !restart && c.restartTimer != nil {
			c.restartTimer.Stop()
			c.restartTimer = nil
		}
		return
	}
	s.stopProbesLocked(c)
	c.ready = false
	if grace <= 0 {
		_ = signalGroup(c.pid, syscall.SIGKILL)
		return
	}
	_ = signalGroup(c.pid, syscall.SIGTERM)
	if c.killTimer == nil {
		gen := c.gen
		c.killTimer = time.AfterFunc(grace, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if c.gen == gen && c.state == StateRunning {
				s.emitReplicaLocked(r, "Killing", fmt.Sprintf("grace period of %s is over: SIGKILL", grace), c.plan.name)
				_ = signalGroup(c.pid, syscall.SIGKILL)
			}
		})
	}
}

// stopReplicaLocked stops every container gracefully and returns a channel
// closed once none runs.
func (s *Supervisor) stopReplicaLocked(r *replica, grace time.Duration, why string) <-chan struct{} {
	if r.anyRunning() {
		s.emitReplicaLocked(r, "Killing", fmt.Sprintf("stopping (grace period %s): %s", grace, why), "")
	}
	for _, c := range r.containers {
		s.stopContainerLocked(r, c, grace, false)
	}
	// A frozen process handles its SIGTERM only once thawed.
	s.thawLocked(r, false)
	s.refreshLocked(r)
	return s.stoppedChanLocked(r)
}

// killReplicaLocked SIGKILLs every container, without restart.
func (s *Supervisor) killReplicaLocked(r *replica, why string) <-chan struct{} {
	if r.anyRunning() {
		s.emitReplicaLocked(r, "Killing", "SIGKILL: "+why, "")
	}
	for _, c := range r.containers {
		s.stopContainerLocked(r, c, 0, false)
	}
	s.thawLocked(r, false)
	s.refreshLocked(r)
	return s.stoppedChanLocked(r)
}

func (r *replica) anyRunning() bool {
	for _, c := range r.containers {
		if c.state == StateRunning {
			return true
		}
	}
	return false
}

func (s *Supervisor) stoppedChanLocked(r *replica) <-chan struct{} {
	ch := make(chan struct{})
	if !r.anyRunning() {
		close(ch)
		return ch
	}
	r.stopWaiters = append(r.stopWaiters, ch)
	return ch
}

// whenStoppedLocked runs fn (with s.mu held) once no container of r runs.
func (s *Supervisor) whenStoppedLocked(r *replica, fn func()) {
	if !r.anyRunning() {
		fn()
		return
	}
	r.onStopped = append(r.onStopped, fn)
}

func (s *Supervisor) checkStoppedLocked(r *replica) {
	if r.anyRunning() {
		return
	}
	for _, ch := range r.stopWaiters {
		close(ch)
	}
	r.stopWaiters = nil
	fns := r.onStopped
	r.onStopped = nil
	for _, fn := range fns {
		fn()
	}
}

// recreateLocked makes r a new incarnation (a new pod with the same name),
// places it anew and starts it. The old incarnation must be stopped.
func (s *Supervisor) recreateLocked(r *replica, why string) {
	for _, c := range r.containers {
		if c.restartTimer != nil {
			c.restartTimer.Stop()
		}
	}
	if r.cg != nil {
		_ = r.cg.kill()
		_ = r.cg.remove()
		r.cg = nil
	}
	old := r.node
	r.uid, r.created = newUID(), time.Now()
	r.node, r.active, r.nodeLost, r.frozen = "", false, false, false
	r.containers = s.newContainers(r)
	s.emitReplicaLocked(r, "Recreated", fmt.Sprintf("%s (was on node %s)", why, old), "")
	if s.scheduleLocked(r) && r.svc.started {
		s.startReplicaLocked(r)
	}
	s.refreshLocked(r)
}

// refreshLocked recomputes a replica's phase, status and readiness after a
// change, and propagates it: events, gateway endpoints, waiters, state file.
func (s *Supervisor) refreshLocked(r *replica) {
	phase, status, ready := s.computeLocked(r)
	changed := phase != r.phase || status != r.status
	readyChanged := ready != r.ready
	r.phase, r.status, r.ready = phase, status, ready
	if readyChanged {
		reason := "NotReady"
		if ready {
			reason = "Ready"
			r.noteReadyLocked()
		}
		s.emitReplicaLocked(r, reason, "", "")
		s.syncEndpointsLocked(r.svc)
	} else if changed && status != r.shownStatus {
		s.emitReplicaLocked(r, "Status", "", "")
	}
	if changed || readyChanged {
		s.persistLocked()
	}
	s.notifyLocked()
}

func (s *Supervisor) computeLocked(r *replica) (phase, status string, ready bool) {
	switch {
	case r.node == "":
		status = ReasonUnschedulable
		if r.deleting {
			status = ReasonTerminating
		}
		return PhasePending, status, false
	case r.nodeLost:
		return PhaseUnknown, ReasonNodeLost, false
	case !r.active:
		status = ReasonContainerCreating
		if !r.svc.started && len(r.svc.plan.dependsOn) > 0 {
			status = ReasonWaitingForDeps
		}
		if r.deleting {
			status = ReasonTerminating
		}
		return PhasePending, status, false
	}
	waiting, running, failed := 0, 0, 0
	allReady := true
	status = ""
	for _, c := range r.containers {
		switch c.state {
		case StateRunning:
			running++
		case StateWaiting:
			if c.everStarted {
				running++ // restarting: the pod is still Running
			} else {
				waiting++
			}
		case StateTerminated:
			if c.lastCode != nil && *c.lastCode != 0 {
				failed++
			}
		}
		if c.state != StateRunning || !c.ready || !c.startupDone {
			allReady = false
		}
		if status == "" && c.state != StateRunning && c.reason != "" {
			status = c.reason
		}
	}
	switch {
	case waiting > 0:
		phase = PhasePending
	case running > 0:
		phase = PhaseRunning
	case failed > 0:
		phase = PhaseFailed
	default:
		phase = PhaseSucceeded
	}
	if status == "" {
		status = phase
	}
	if r.frozen {
		status = ReasonFrozen
	}
	if r.deleting {
		status = ReasonTerminating
	}
	ready = phase == PhaseRunning && allReady && !r.frozen && !r.deleting && s.nodeReadyLocked(r.node)
	return phase, status, ready
}

func (s *Supervisor) nodeReadyLocked(name string) bool {
	for _, n := range s.nodes {
		if n.name == name {
			return n.ready
		}
	}
	return false
}

// syncEndpointsLocked gives a service's balancer its ready replicas, and
// starts services that waited for this one.
func (s *Supervisor) syncEndpointsLocked(svc *service) {
	var eps []endpoint
	for _, r := range s.sortedReplicasLocked() {
		if r.svc == svc && r.ready && !r.deleting {
			eps = append(eps, endpoint{replica: r.name, addr: net.JoinHostPort(r.podIP(), strconv.Itoa(r.port))})
		}
	}
	svc.bal.set(eps)
	s.startServicesLocked()
}

// startServicesLocked starts every service whose dependencies all have a
// ready replica. Starting a service can make another one startable (a
// replica without readiness probe is ready at once), hence the loop; the
// guard stops the recursion through refreshLocked.
func (s *Supervisor) startServicesLocked() {
	if s.startingServices || s.phase != phaseRunning {
		return
	}
	s.startingServices = true
	defer func() { s.startingServices = false }()
	for progress := true; progress; {
		progress = false
		for _, svc := range s.services {
			if svc.started || !s.depsReadyLocked(svc) {
				continue
			}
			svc.started, progress = true, true
			for _, r := range s.sortedReplicasLocked() {
				if r.svc == svc && r.node != "" {
					s.startReplicaLocked(r)
					s.refreshLocked(r)
				}
			}
		}
	}
}

func (s *Supervisor) depsReadyLocked(svc *service) bool {
	for _, dep := range svc.plan.dependsOn {
		d, err := s.serviceLocked(dep)
		if err != nil || len(d.bal.ready()) == 0 {
			return false
		}
	}
	return true
}

func (s *Supervisor) emitReplicaLocked(r *replica, reason, msg, container string) {
	st := r.statusLocked()
	// The snapshot shows the state as of now, even when the change that
	// caused the event has not been propagated by refreshLocked yet.
	st.Phase, st.Status, st.Ready = s.computeLocked(r)
	r.shownStatus = st.Status
	s.emitLocked(Event{Kind: EventReplica, Name: r.name, Reason: reason, Message: msg, Container: container, Replica: &st})
}

func (r *replica) statusLocked() ReplicaStatus {
	st := ReplicaStatus{
		Name: r.name, Namespace: r.namespace, Service: r.svc.plan.name, Ordinal: r.ordinal, UID: r.uid,
		Labels: r.labels(), Annotations: copyMap(r.svc.plan.annotations), Node: r.node,
		Phase: r.phase, Status: r.status, Ready: r.ready, Created: r.created, IP: r.podIP(),
		Port: r.port, Frozen: r.frozen, TotalContainers: len(r.containers),
	}
	if r.cg != nil {
		st.Cgroup = r.cg.path
	}
	for _, c := range r.containers {
		cs := ContainerStatus{Name: c.plan.name, Main: c.main, State: c.state, Reason: c.reason,
			Ready: c.state == StateRunning && c.ready && c.startupDone && !r.frozen, RestartCount: c.restarts,
			PID: c.pid, StartTime: c.startTime, LastExitCode: c.lastCode, LastSignal: c.lastSignal,
			LastFinished: c.lastFinished, BackOff: c.backoffDelay}
		if c.state == StateRunning {
			cs.StartedAt = c.startedAt
		}
		if cs.Ready {
			st.ReadyContainers++
		}
		st.Restarts += c.restarts
		st.Containers = append(st.Containers, cs)
	}
	return st
}

// labels are the service's labels plus the ones Kubernetes controllers add
// to every pod, so selectors written for a cluster keep matching.
func (r *replica) labels() map[string]string {
	l := copyMap(r.svc.plan.labels)
	if l == nil {
		l = map[string]string{}
	}
	if _, ok := l["app"]; !ok {
		l["app"] = r.svc.plan.name
	}
	l["faultline.dev/service"] = r.svc.plan.name
	l["statefulset.kubernetes.io/pod-name"] = r.name
	l["apps.kubernetes.io/pod-index"] = strconv.Itoa(r.ordinal)
	return l
}
