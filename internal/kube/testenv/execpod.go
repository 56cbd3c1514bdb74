package testenv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// podWorker runs the process of one exec pod (one UID) for its lifetime:
// start when scheduled on a kwok node with an IP, probe, restart with
// back-off, stop on deletion (then delete the pod) or when the node is gone.
type podWorker struct {
	x    *Exec
	uid  types.UID
	kick chan struct{} // capacity 1: "look at the pod again"

	mu   sync.Mutex
	pod  *corev1.Pod // latest seen
	gone bool        // deleted from the API
	info ExecProcess
}

func (w *podWorker) update(pod *corev1.Pod, deleted bool) {
	w.mu.Lock()
	w.pod = pod
	w.gone = w.gone || deleted
	w.mu.Unlock()
	w.poke()
}

func (w *podWorker) poke() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *podWorker) snapshot() (*corev1.Pod, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod, w.gone
}

func (w *podWorker) setInfo(f func(*ExecProcess)) {
	w.mu.Lock()
	f(&w.info)
	w.mu.Unlock()
}

// run is the worker's loop; it returns when the pod is gone (its process
// stopped) or the runner stops.
func (w *podWorker) run(ctx context.Context) {
	x := w.x
	defer x.workerWG.Done()
	defer func() {
		x.mu.Lock()
		delete(x.workers, w.uid)
		x.mu.Unlock()
	}()
	var (
		cur       *proc     // running process, or nil
		heldIP    string    // IP reserved through x.acquireIP
		crashes   int       // consecutive exits, for the back-off
		nextStart time.Time // not before (back-off)
		starts    int
		lastTerm  *corev1.ContainerStateTerminated
		finished  bool // restartPolicy said not to restart
	)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	arm := func(d time.Duration) {
		timer.Stop()
		select {
		case <-timer.C:
		default:
		}
		timer.Reset(max(d, time.Millisecond))
	}
	release := func() {
		if heldIP != "" {
			x.releaseIP(heldIP, w.uid)
			heldIP = ""
		}
	}
	stopCur := func(grace time.Duration) {
		if cur == nil {
			return
		}
		cur.stop(grace)
		w.setInfo(func(i *ExecProcess) { i.PID, i.Ready = 0, false })
		cur = nil
	}
	defer release()

	for {
		pod, gone := w.snapshot()
		ns, name := pod.Namespace, pod.Name
		if gone || pod.DeletionTimestamp != nil {
			stopCur(w.grace(pod))
			release()
			if !gone {
				x.deletePod(ns, name, w.uid)
			}
			x.log.logf("%s/%s: done", ns, name)
			return
		}
		onNode := x.onKwokNode(pod.Spec.NodeName)
		if !onNode && cur != nil {
			// The node died: its processes die with it; no kubelet is left
			// to report anything.
			x.log.logf("%s/%s: node %q is not a live kwok node: stopping the process", ns, name, pod.Spec.NodeName)
			stopCur(w.grace(pod))
			release()
		}
		if cur == nil && onNode && pod.Status.PodIP != "" && !finished && len(pod.Spec.Containers) > 0 {
			if wait := time.Until(nextStart); wait > 0 {
				arm(wait)
			} else if heldIP != pod.Status.PodIP && !x.acquireIP(pod.Status.PodIP, w.uid) {
				arm(100 * time.Millisecond) // the previous owner still shuts down
			} else {
				heldIP = pod.Status.PodIP
				p, err := w.start(pod)
				if err != nil {
					x.log.logf("%s/%s: %v", ns, name, err)
					reason := "RunContainerError"
					var ce *configError
					if errors.As(err, &ce) {
						reason = ce.reason
					}
					w.writeStatus(pod, func(st *corev1.PodStatus) {
						setContainerWaiting(st, pod, reason, err.Error())
					})
					crashes++
					nextStart = time.Now().Add(w.backOff(crashes))
					arm(time.Until(nextStart))
				} else {
					cur = p
					starts++
					restarts := int32(max(starts-1, 0))
					ready := cur.readiness == nil
					w.setInfo(func(i *ExecProcess) {
						i.PID, i.IP, i.LocalIP, i.Starts, i.Restarts, i.Ready = p.pid, pod.Status.PodIP, p.localIP, starts, restarts, ready
					})
					x.log.logf("%s/%s: started pid %d (start %d): %q", ns, name, p.pid, starts, p.argv)
					w.writeStatus(pod, func(st *corev1.PodStatus) {
						setContainerRunning(st, pod, p.startedAt, restarts, lastTerm, ready)
					})
				}
			}
		}

		var exited <-chan struct{}
		var probes <-chan probeEvent
		if cur != nil {
			exited, probes = cur.done, cur.events
		}
		select {
		case <-ctx.Done():
			stopCur(min(w.grace(pod), 2*time.Second))
			return
		case <-w.kick:
		case <-timer.C:
		case ev := <-probes:
			switch ev.kind {
			case probeReadiness:
				w.setInfo(func(i *ExecProcess) { i.Ready = ev.ok })
				x.log.logf("%s/%s: readiness %t", ns, name, ev.ok)
				w.writeStatus(pod, func(st *corev1.PodStatus) { setReady(st, pod, ev.ok) })
			case probeLiveness:
				x.log.logf("%s/%s: liveness probe failed: killing pid %d", ns, name, cur.pid)
				cur.stop(w.grace(pod))
				// Handled as an exit below on the next pass (done is closed).
			}
		case <-exited:
			term := cur.terminated()
			x.log.logf("%s/%s: pid %d exited: %s (code %d)", ns, name, cur.pid, term.Reason, term.ExitCode)
			w.setInfo(func(i *ExecProcess) { i.PID, i.Ready = 0, false })
			cur.cancel()
			cur = nil
			lastTerm = term
			if time.Since(term.StartedAt.Time) >= x.opts.BackOffReset {
				crashes = 0
			}
			crashes++
			restart := true
			switch pod.Spec.RestartPolicy {
			case corev1.RestartPolicyNever:
				restart = false
			case corev1.RestartPolicyOnFailure:
				restart = term.ExitCode != 0
			}
			if restart {
				nextStart = time.Now().Add(w.backOff(crashes))
				w.writeStatus(pod, func(st *corev1.PodStatus) { setContainerExited(st, pod, term, true) })
				arm(time.Until(nextStart))
			} else {
				finished = true
				release()
				w.writeStatus(pod, func(st *corev1.PodStatus) { setContainerExited(st, pod, term, false) })
			}
		}
	}
}

// grace is the pod's termination grace period, capped.
func (w *podWorker) grace(pod *corev1.Pod) time.Duration {
	g := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.DeletionGracePeriodSeconds != nil {
		g = *pod.DeletionGracePeriodSeconds
	} else if pod.Spec.TerminationGracePeriodSeconds != nil {
		g = *pod.Spec.TerminationGracePeriodSeconds
	}
	return min(time.Duration(max(g, 0))*time.Second, w.x.opts.MaxGracePeriod)
}

func (w *podWorker) backOff(crashes int) time.Duration {
	d := w.x.opts.RestartBackOff
	for i := 1; i < crashes && d < w.x.opts.MaxRestartBackOff; i++ {
		d *= 2
	}
	return min(d, w.x.opts.MaxRestartBackOff)
}

// configError is a container that cannot be started as specified.
type configError struct {
	reason string
	err    error
}

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// start starts the process of the pod's first container.
func (w *podWorker) start(pod *corev1.Pod) (*proc, error) {
	x := w.x
	c := &pod.Spec.Containers[0]
	exe, ok := x.opts.Images[c.Image]
	if !ok {
		return nil, &configError{"ErrImageNeverPull", fmt.Errorf("image %q has no local executable in ExecOptions.Images", c.Image)}
	}
	if !filepath.IsAbs(exe) {
		exe = filepath.Join(x.opts.Dir, exe)
	}
	localIP, ok := x.env.LocalIP(pod.Status.PodIP)
	if !ok {
		return nil, &configError{"RunContainerError", fmt.Errorf("pod IP %q is not in the environment's pod range %s", pod.Status.PodIP, x.env.net.podCIDR)}
	}
	links := pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks
	base := append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, x.opts.Env...)
	spec, err := containerProcess(pod, c, exe, x.opts.Dir, localIP, base, x.serviceEnv(pod.Namespace, links))
	if err != nil {
		return nil, &configError{"CreateContainerConfigError", err}
	}
	logPath := x.LogPath(pod.Namespace, pod.Name)
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	fmt.Fprintf(f, "# testenv: %s start %q in %s\n", time.Now().Format(time.RFC3339Nano), spec.Argv, spec.Dir)
	cmd := exec.Command(spec.Argv[0], spec.Argv[1:]...)
	cmd.Env, cmd.Dir = spec.Env, spec.Dir
	cmd.Stdout, cmd.Stderr = f, f
	// Own process group (stopping it stops what it forked) and SIGKILL when
	// the test binary dies: no process outlives the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(f, "# testenv: start failed: %v\n", err)
		_ = f.Close()
		return nil, &configError{"StartError", fmt.Errorf("start %s: %w", spec.Argv[0], err)}
	}
	ctx, cancel := context.WithCancel(x.ctx)
	p := &proc{
		cmd: cmd, pid: cmd.Process.Pid, argv: spec.Argv, startedAt: time.Now(), localIP: localIP,
		done: make(chan struct{}), events: make(chan probeEvent, 4), cancel: cancel,
	}
	go func() {
		p.waitErr = cmd.Wait()
		p.finishedAt = time.Now()
		fmt.Fprintf(f, "# testenv: %s exited: %v\n", p.finishedAt.Format(time.RFC3339Nano), p.waitErr)
		_ = f.Close()
		cancel()
		close(p.done)
	}()
	target := probeTarget{ip: localIP, ports: c.Ports}
	if c.ReadinessProbe != nil {
		p.readiness = c.ReadinessProbe
		go w.probeLoop(ctx, probeReadiness, c.ReadinessProbe, target, p.events)
	}
	if c.LivenessProbe != nil {
		go w.probeLoop(ctx, probeLiveness, c.LivenessProbe, target, p.events)
	}
	return p, nil
}

// proc is one started process.
type proc struct {
	cmd        *exec.Cmd
	pid        int
	argv       []string
	localIP    string
	startedAt  time.Time
	finishedAt time.Time     // valid after done
	waitErr    error         // valid after done
	done       chan struct{} // closed once reaped
	events     chan probeEvent
	cancel     context.CancelFunc // stops the probes
	readiness  *corev1.Probe
	stopOnce   sync.Once
}

// stop sends SIGTERM to the process group, SIGKILL after grace, and waits
// (bounded) until the process is reaped.
func (p *proc) stop(grace time.Duration) {
	p.stopOnce.Do(func() {
		p.cancel()
		select {
		case <-p.done:
		default:
			_ = syscall.Kill(-p.pid, syscall.SIGTERM)
			t := time.NewTimer(grace)
			select {
			case <-p.done:
			case <-t.C:
			}
			t.Stop()
		}
		_ = syscall.Kill(-p.pid, syscall.SIGKILL) // also whatever it forked
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
		}
	})
}

// terminated describes the exit, as a container status does.
func (p *proc) terminated() *corev1.ContainerStateTerminated {
	t := &corev1.ContainerStateTerminated{
		StartedAt: metav1.NewTime(p.startedAt), FinishedAt: metav1.NewTime(p.finishedAt),
		Reason: "Completed",
	}
	var ee *exec.ExitError
	if errors.As(p.waitErr, &ee) {
		t.Reason = "Error"
		t.ExitCode = int32(ee.ExitCode())
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.ExitCode = 128 + int32(ws.Signal())
			t.Signal = int32(ws.Signal())
			t.Message = ws.Signal().String()
		}
	} else if p.waitErr != nil {
		t.Reason, t.ExitCode, t.Message = "Error", -1, p.waitErr.Error()
	}
	return t
}

// --- probes ---

type probeKind int

const (
	probeReadiness probeKind = iota
	probeLiveness
)

type probeEvent struct {
	kind probeKind
	ok   bool // readiness: the new state; liveness: always false
}

type probeTarget struct {
	ip    string
	ports []corev1.ContainerPort
}

// probeLoop runs a probe with the kubelet's thresholds: readiness changes
// after successThreshold successes or failureThreshold failures in a row
// (starting unready, first probe at initialDelaySeconds); liveness (first
// probe one period after initialDelaySeconds) reports failureThreshold
// failures in a row once and stops.
func (w *podWorker) probeLoop(ctx context.Context, kind probeKind, pr *corev1.Probe, target probeTarget, events chan<- probeEvent) {
	period := time.Duration(pr.PeriodSeconds) * time.Second
	if period <= 0 {
		period = 10 * time.Second
	}
	if w.x.opts.ProbePeriod > 0 {
		period = w.x.opts.ProbePeriod
	}
	timeout := time.Duration(max(pr.TimeoutSeconds, 1)) * time.Second
	succT, failT := int(max(pr.SuccessThreshold, 1)), int(max(pr.FailureThreshold, 1))
	if pr.FailureThreshold == 0 {
		failT = 3
	}
	delay := time.Duration(pr.InitialDelaySeconds) * time.Second
	if kind == probeLiveness {
		// Readiness is probed at once, liveness one period later: a process
		// is not killed for not listening yet in its first milliseconds.
		delay += period
	}
	state := kind == probeLiveness // readiness starts false, liveness true
	succ, fail := 0, 0
	t := time.NewTimer(delay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok := runProbe(ctx, pr, target, min(timeout, period+time.Second))
		if ok {
			succ, fail = succ+1, 0
		} else {
			succ, fail = 0, fail+1
		}
		switch {
		case kind == probeReadiness && !state && succ >= succT:
			state = true
		case !ok && state && fail >= failT:
			state = false
		default:
			t.Reset(period)
			continue
		}
		select {
		case events <- probeEvent{kind: kind, ok: state}:
		case <-ctx.Done():
			return
		}
		if kind == probeLiveness {
			return
		}
		t.Reset(period)
	}
}

// runProbe runs one httpGet or tcpSocket probe against the pod IP. exec and
// grpc probes are not run by the stand-in: they count as passing.
func runProbe(ctx context.Context, pr *corev1.Probe, target probeTarget, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case pr.HTTPGet != nil:
		g := pr.HTTPGet
		port, err := resolvePort(g.Port, target.ports)
		if err != nil {
			return false
		}
		host := target.ip
		if g.Host != "" {
			host = g.Host
		}
		scheme := strings.ToLower(string(g.Scheme))
		if scheme == "" {
			scheme = "http"
		}
		path := g.Path
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(host, strconv.Itoa(port))+path, nil)
		if err != nil {
			return false
		}
		for _, h := range g.HTTPHeaders {
			req.Header.Add(h.Name, h.Value)
		}
		req.Header.Set("User-Agent", "kube-probe/testenv")
		tr := &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // the kubelet does not verify probe certificates either
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode >= 200 && resp.StatusCode < 400
	case pr.TCPSocket != nil:
		port, err := resolvePort(pr.TCPSocket.Port, target.ports)
		if err != nil {
			return false
		}
		host := target.ip
		if pr.TCPSocket.Host != "" {
			host = pr.TCPSocket.Host
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	}
	return true
}

// resolvePort turns a probe port (number or container port name) into a number.
func resolvePort(p intstr.IntOrString, ports []corev1.ContainerPort) (int, error) {
	if p.Type == intstr.Int {
		return p.IntValue(), nil
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	for _, cp := range ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("no container port named %q", p.StrVal)
}

// --- pod status ---

// writeStatus applies mutate to the pod's current status and writes it
// through the status subresource, retrying conflicts (bounded).
func (w *podWorker) writeStatus(pod *corev1.Pod, mutate func(*corev1.PodStatus)) {
	x := w.x
	ctx, cancel := context.WithTimeout(x.ctx, 10*time.Second)
	defer cancel()
	pods := x.env.Clientset.CoreV1().Pods(pod.Namespace)
	var err error
	for range 10 {
		var cur *corev1.Pod
		cur, err = pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			break
		}
		if cur.UID != w.uid || cur.DeletionTimestamp != nil {
			return // replaced or terminating: the worker's loop sees it
		}
		mutate(&cur.Status)
		_, err = pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			break
		}
	}
	if err != nil && !apierrors.IsNotFound(err) && x.ctx.Err() == nil {
		x.log.logf("%s/%s: write status: %v", pod.Namespace, pod.Name, err)
	}
}

func setCondition(st *corev1.PodStatus, t corev1.PodConditionType, ok bool, reason string) {
	status := corev1.ConditionFalse
	if ok {
		status, reason = corev1.ConditionTrue, ""
	}
	now := metav1.Now()
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Type == t {
			if c.Status != status {
				c.LastTransitionTime = now
			}
			c.Status, c.Reason = status, reason
			return
		}
	}
	st.Conditions = append(st.Conditions, corev1.PodCondition{Type: t, Status: status, Reason: reason, LastTransitionTime: now})
}

func setReady(st *corev1.PodStatus, pod *corev1.Pod, ready bool) {
	setCondition(st, corev1.ContainersReady, ready, "ContainersNotReady")
	setCondition(st, corev1.PodReady, ready, "ContainersNotReady")
	cs := containerStatus(st, pod)
	cs.Ready = ready
}

// containerStatus returns the status of the first container, adding the
// other containers' statuses (shown running and ready: only the first
// container runs) when missing.
func containerStatus(st *corev1.PodStatus, pod *corev1.Pod) *corev1.ContainerStatus {
	for i, c := range pod.Spec.Containers {
		found := false
		for j := range st.ContainerStatuses {
			if st.ContainerStatuses[j].Name == c.Name {
				found = true
				break
			}
		}
		if !found {
			cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: c.Image}
			if i > 0 {
				cs.Ready, cs.Started = true, new(true)
				cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.Now()}
			}
			st.ContainerStatuses = append(st.ContainerStatuses, cs)
		}
	}
	for j := range st.ContainerStatuses {
		if st.ContainerStatuses[j].Name == pod.Spec.Containers[0].Name {
			return &st.ContainerStatuses[j]
		}
	}
	return nil // not reached: added above
}

func setContainerWaiting(st *corev1.PodStatus, pod *corev1.Pod, reason, msg string) {
	setReady(st, pod, false)
	cs := containerStatus(st, pod)
	cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
	cs.Started = new(false)
}

func setContainerRunning(st *corev1.PodStatus, pod *corev1.Pod, at time.Time, restarts int32, last *corev1.ContainerStateTerminated, ready bool) {
	st.Phase = corev1.PodRunning
	setReady(st, pod, ready)
	cs := containerStatus(st, pod)
	cs.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(at)}}
	cs.Started = new(true)
	cs.RestartCount = restarts
	if last != nil {
		cs.LastTerminationState = corev1.ContainerState{Terminated: last}
	}
}

func setContainerExited(st *corev1.PodStatus, pod *corev1.Pod, term *corev1.ContainerStateTerminated, restart bool) {
	setReady(st, pod, false)
	cs := containerStatus(st, pod)
	cs.Started = new(false)
	if restart {
		cs.LastTerminationState = corev1.ContainerState{Terminated: term}
		cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
			Message: fmt.Sprintf("back-off restarting the exited container (%s, exit code %d)", term.Reason, term.ExitCode)}}
		return
	}
	cs.State = corev1.ContainerState{Terminated: term}
	st.Phase = corev1.PodSucceeded
	if term.ExitCode != 0 {
		st.Phase = corev1.PodFailed
	}
}
