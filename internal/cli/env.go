package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/api/v1alpha1"
	"github.com/faultline-dev/faultline/internal/engine"
	"github.com/faultline-dev/faultline/internal/engine/local"
)

// envFailed marks a runtime failure of an env command (exit 1), as
// opposed to a usage error.
func envFailed(err error) error { return &exitError{code: ExitInvalid, err: err} }

func newEnvCmd(stdio IO) *cobra.Command {
	c := &cobra.Command{
		Use:   "env",
		Short: "Run local environments: services as real processes, with replicas, nodes and gateways",
		Long: `A local environment (faultline.dev/v1alpha1 Environment) runs each service as
real processes on this machine: replicas spread over named nodes, readiness
and liveness probes, restarts with kubelet's back-off, and a gateway per
service that balances over ready replicas, like a small Kubernetes.

Its files live in $FAULTLINE_STATE_DIR/envs/<name>/: the state, the control
socket, and each replica's logs.`,
	}
	c.AddCommand(newEnvUpCmd(stdio), newEnvStatusCmd(stdio), newEnvDownCmd(stdio),
		newEnvLogsCmd(stdio), newEnvListCmd(stdio))
	return c
}

type envUpFlags struct {
	ff       fileFlags
	name     string
	detach   bool
	wait     bool
	timeout  time.Duration
	output   string
	specJSON string // hidden: the environment written by a detaching parent
	baseDir  string // hidden: where relative paths of that environment start
	// namespaces runs each replica in a network namespace of its own,
	// which the packet network backend needs.
	namespaces bool
}

func newEnvUpCmd(stdio IO) *cobra.Command {
	var f envUpFlags
	c := &cobra.Command{
		Use:   "up -f ENV.yaml",
		Short: "Start a local environment",
		Long: `Start a local environment and supervise it.

In the foreground (the default) it prints each replica and node event as it
happens; Ctrl-C or SIGTERM stops every replica gracefully and exits 0.
With --detach it starts a background supervisor, waits until every replica
is ready (--timeout), prints the status and exits; stop it with
'faultline env down'.

--network-namespaces (root) runs each replica in a network namespace of its
own, joined to the host by a veth pair: what NetworkChaos loss, duplicate
and corrupt need (the packet backend, see docs/packet.md).`,
		Example: `  faultline env up -f env.yaml
  faultline env up -f env.yaml --detach --name shop
  faultline env up -f env.yaml --detach --wait=false`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(f.output); err != nil {
				return err
			}
			if f.timeout <= 0 {
				return usageErr("--timeout must be positive, got %s", f.timeout)
			}
			env, baseDir, err := loadEnvironment(stdio, &f)
			if err != nil {
				return err
			}
			if f.detach {
				wait := f.wait || !c.Flags().Changed("wait")
				return envUpDetached(c.Context(), stdio, env, baseDir, &f, wait)
			}
			return envUpForeground(c.Context(), stdio, env, baseDir, &f)
		},
	}
	f.ff.add(c)
	c.Flags().StringVar(&f.name, "name", "", "environment name (default: the manifest's metadata.name)")
	c.Flags().BoolVarP(&f.detach, "detach", "d", false, "run the supervisor in the background and return once the environment is ready")
	c.Flags().BoolVar(&f.wait, "wait", false, "wait until every replica is ready (default with --detach)")
	c.Flags().DurationVar(&f.timeout, "timeout", 60*time.Second, "how long --wait waits for readiness")
	c.Flags().BoolVar(&f.namespaces, "network-namespaces", false, "run each replica in its own network namespace, for the packet network backend (root)")
	addOutputFlag(c, &f.output)
	c.Flags().StringVar(&f.specJSON, "spec-json", "", "")
	c.Flags().StringVar(&f.baseDir, "base-dir", "", "")
	_ = c.Flags().MarkHidden("spec-json")
	_ = c.Flags().MarkHidden("base-dir")
	return c
}

// loadEnvironment reads the one Environment of the -f inputs (or the
// hidden --spec-json of a detached supervisor) and the directory its
// relative paths start from.
func loadEnvironment(stdio IO, f *envUpFlags) (*v1alpha1.Environment, string, error) {
	if f.specJSON != "" {
		data, err := os.ReadFile(f.specJSON)
		if err != nil {
			return nil, "", envFailed(fmt.Errorf("read environment: %w", err))
		}
		var env v1alpha1.Environment
		if err := json.Unmarshal(data, &env); err != nil {
			return nil, "", envFailed(fmt.Errorf("read environment %s: %w", f.specJSON, err))
		}
		return &env, f.baseDir, nil
	}
	res, err := f.ff.load(stdio)
	if err != nil {
		return nil, "", err
	}
	if res.Diagnostics.HasErrors() {
		for _, d := range res.Diagnostics {
			fmt.Fprintln(stdio.Err, d.String())
		}
		return nil, "", silentExit(ExitInvalid)
	}
	var envs []*v1alpha1.Environment
	var files []string
	for _, d := range res.Documents {
		if e, ok := d.Object.(*v1alpha1.Environment); ok {
			envs = append(envs, e)
			files = append(files, d.File)
		}
	}
	switch len(envs) {
	case 0:
		return nil, "", envFailed(errors.New("no Environment (apiVersion: faultline.dev/v1alpha1, kind: Environment) in the given manifests"))
	case 1:
	default:
		return nil, "", envFailed(fmt.Errorf("%d Environments in the given manifests; pass one at a time", len(envs)))
	}
	baseDir := ""
	if files[0] != "-" {
		abs, err := filepath.Abs(files[0])
		if err != nil {
			return nil, "", envFailed(err)
		}
		baseDir = filepath.Dir(abs)
	}
	return envs[0], baseDir, nil
}

func envUpForeground(ctx context.Context, stdio IO, env *v1alpha1.Environment, baseDir string, f *envUpFlags) error {
	sup, err := local.New(env, local.Options{Name: f.name, BaseDir: baseDir, NetworkNamespaces: f.namespaces})
	if err != nil {
		return envFailed(err)
	}
	events, unsubscribe := sup.Subscribe()
	defer unsubscribe()
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		for e := range events {
			fmt.Fprintln(stdio.Out, formatEnvEvent(e))
		}
	}()
	if err := sup.Start(ctx); err != nil {
		unsubscribe()
		<-printed
		return envFailed(err)
	}
	// The fault engine serves `faultline inject` and `faultline stop` on
	// the control socket; it reverts every fault when the supervisor stops.
	if _, err := local.AttachEngine(sup, local.EngineOptions{}); err != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		_ = sup.Shutdown(sctx)
		cancel()
		unsubscribe()
		<-printed
		return envFailed(err)
	}
	fmt.Fprintf(stdio.Err, "environment %s is starting (control socket %s); Ctrl-C stops it\n", sup.Name(), sup.SocketPath())

	readyCtx, cancelReady := context.WithCancel(ctx)
	defer cancelReady()
	go func() {
		if sup.WaitReady(readyCtx) == nil {
			st := sup.Status()
			var gws []string
			for _, s := range st.Services {
				gws = append(gws, s.Name+"="+s.URL)
			}
			fmt.Fprintf(stdio.Err, "environment %s is ready: %s\n", sup.Name(), strings.Join(gws, " "))
		}
	}()

	select {
	case <-ctx.Done():
		fmt.Fprintf(stdio.Err, "stopping environment %s\n", sup.Name())
	case <-sup.Done():
	}
	cancelReady()
	// The command's context is cancelled by now; the shutdown gets its own
	// time: grace periods are per container, plus a margin.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer cancel()
	err = sup.Shutdown(sctx)
	unsubscribe()
	<-printed
	if err != nil {
		return envFailed(fmt.Errorf("stop environment %s: %w", sup.Name(), err))
	}
	fmt.Fprintf(stdio.Err, "environment %s stopped\n", sup.Name())
	return nil
}

// formatEnvEvent renders an event as one line of `env up` output.
func formatEnvEvent(e local.Event) string {
	var b strings.Builder
	b.WriteString(e.Time.Format("15:04:05.000"))
	b.WriteString("  ")
	name := e.Name
	if e.Container != "" && e.Replica != nil && e.Container != e.Replica.Service {
		name += "/" + e.Container
	}
	fmt.Fprintf(&b, "%-8s %-16s %-15s", strings.ToLower(string(e.Kind)), name, e.Reason)
	var details []string
	if e.Replica != nil && e.Kind == local.EventReplica {
		details = append(details, fmt.Sprintf("%s ready=%v node=%s", e.Replica.Status, e.Replica.Ready, dashIfEmpty(e.Replica.Node)))
	}
	if e.Node != nil {
		details = append(details, nodeStatusWord(*e.Node))
	}
	if e.Message != "" {
		details = append(details, e.Message)
	}
	b.WriteString(" ")
	b.WriteString(strings.Join(details, "  "))
	return strings.TrimRight(b.String(), " ")
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func envUpDetached(ctx context.Context, stdio IO, env *v1alpha1.Environment, baseDir string, f *envUpFlags, wait bool) error {
	stateDir := engine.StateDir()
	name := env.Name
	if f.name != "" {
		name = f.name
	}
	// Refuse bad input here, in the foreground, where the user sees it:
	// New checks everything that does not need starting anything.
	if _, err := local.New(env, local.Options{Name: f.name, BaseDir: baseDir, StateDir: stateDir, NetworkNamespaces: f.namespaces}); err != nil {
		return envFailed(err)
	}
	if st, err := local.ReadState(stateDir, name); err == nil && st.Owner.Alive() {
		return envFailed(fmt.Errorf("environment %s is already running (supervisor pid %d)", name, st.Owner.PID))
	}
	if baseDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return envFailed(err)
		}
		baseDir = wd
	}
	dir := local.EnvDir(stateDir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return envFailed(fmt.Errorf("create %s: %w", dir, err))
	}
	spec, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return envFailed(fmt.Errorf("encode environment: %w", err))
	}
	specPath := filepath.Join(dir, "environment.json")
	if err := os.WriteFile(specPath, spec, 0o644); err != nil {
		return envFailed(fmt.Errorf("write %s: %w", specPath, err))
	}
	exe, err := os.Executable()
	if err != nil {
		return envFailed(fmt.Errorf("find the faultline binary to run the supervisor: %w", err))
	}
	logPath := filepath.Join(dir, "supervisor.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return envFailed(fmt.Errorf("open supervisor log: %w", err))
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return envFailed(err)
	}
	defer devnull.Close()
	args := []string{"env", "up", "--spec-json", specPath, "--base-dir", baseDir, "--name", name}
	if f.namespaces {
		args = append(args, "--network-namespaces")
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logf, logf
	cmd.Env = append(os.Environ(), "FAULTLINE_STATE_DIR="+stateDir)
	// A session of its own: no terminal, no signals from this shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return envFailed(fmt.Errorf("start the supervisor: %w", err))
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	pid := cmd.Process.Pid

	deadline := time.Now().Add(f.timeout)
	failed := func(why string) error {
		return envFailed(fmt.Errorf("%s\n%s", why, tailFile(logPath, 20)))
	}
	var client *local.Client
	for {
		if st, err := local.ReadState(stateDir, name); err == nil && st.Owner.PID == pid {
			c := local.NewClient(st.Socket)
			if c.Ping(ctx) == nil {
				client = c
				break
			}
		}
		select {
		case err := <-exited:
			return failed(fmt.Sprintf("the supervisor of %s exited (%v); its log %s ends with:", name, err, logPath))
		case <-ctx.Done():
			return envFailed(ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return failed(fmt.Sprintf("the supervisor of %s (pid %d) did not answer within %s; its log %s ends with:", name, pid, f.timeout, logPath))
		}
	}
	defer client.Close()
	fmt.Fprintf(stdio.Err, "environment %s started in the background (supervisor pid %d, log %s)\n", name, pid, logPath)
	st, err := client.Status(ctx)
	for wait && err == nil && !st.Ready {
		if time.Now().After(deadline) {
			writeEnvStatus(stdio.Out, st)
			return envFailed(fmt.Errorf("environment %s is not ready after %s; it keeps running (stop it with 'faultline env down --name %s')", name, f.timeout, name))
		}
		select {
		case err := <-exited:
			return failed(fmt.Sprintf("the supervisor of %s exited (%v); its log %s ends with:", name, err, logPath))
		case <-ctx.Done():
			return envFailed(ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		st, err = client.Status(ctx)
	}
	if err != nil {
		return envFailed(err)
	}
	if f.output != outTable {
		return writeStructured(stdio.Out, f.output, st)
	}
	writeEnvStatus(stdio.Out, st)
	return nil
}

func tailFile(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return "  " + strings.Join(all, "\n  ")
}

// resolveEnvName picks the environment a command acts on: the named one,
// or the only one with a state file (running or not, so that `env down`
// can clean up after a dead supervisor).
func resolveEnvName(stateDir, name string) (string, error) {
	if name != "" {
		return name, nil
	}
	envs, err := local.ListEnvironments(stateDir)
	if err != nil {
		return "", envFailed(err)
	}
	var running, all []string
	for _, e := range envs {
		all = append(all, e.Name)
		if e.Running {
			running = append(running, e.Name)
		}
	}
	switch {
	case len(running) == 1:
		return running[0], nil
	case len(running) > 1:
		return "", usageErr("%d environments are running (%s); choose one with --name", len(running), strings.Join(running, ", "))
	case len(all) == 1:
		return all[0], nil
	case len(all) > 1:
		return "", usageErr("no environment is running, %d have state left (%s); choose one with --name", len(all), strings.Join(all, ", "))
	}
	return "", envFailed(fmt.Errorf("no local environment is running (state directory %s); start one with 'faultline env up -f ENV.yaml --detach'", stateDir))
}

func newEnvStatusCmd(stdio IO) *cobra.Command {
	var name, output string
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the replicas, services and nodes of a running environment",
		Long: `Show a running environment like 'kubectl get pods -o wide': every replica with
its readiness, status, restarts, age, port and node; then the services with
their gateway addresses, and the nodes.`,
		Example: `  faultline env status
  faultline env status --name shop -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			stateDir := engine.StateDir()
			name, err := resolveEnvName(stateDir, name)
			if err != nil {
				return err
			}
			client, err := local.Dial(stateDir, name)
			if err != nil {
				return envFailed(err)
			}
			defer client.Close()
			st, err := client.Status(c.Context())
			if err != nil {
				return envFailed(err)
			}
			if output != outTable {
				return writeStructured(stdio.Out, output, st)
			}
			writeEnvStatus(stdio.Out, st)
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "", "environment (default: the only one running)")
	addOutputFlag(c, &output)
	return c
}

// writeEnvStatus prints the status tables.
func writeEnvStatus(w io.Writer, st *local.Status) {
	tw := newTable(w)
	fmt.Fprintln(tw, "NAME\tREADY\tSTATUS\tRESTARTS\tAGE\tIP\tPORT\tNODE")
	now := time.Now()
	for _, r := range st.Replicas {
		restarts := fmt.Sprint(r.Restarts)
		if last := lastRestart(r); r.Restarts > 0 && !last.IsZero() {
			restarts += fmt.Sprintf(" (%s ago)", kubeAge(now.Sub(last)))
		}
		fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%s\t%s\t%s\t%d\t%s\n", r.Name, r.ReadyContainers, r.TotalContainers,
			r.Status, restarts, kubeAge(now.Sub(r.Created)), r.IP, r.Port, dashIfEmpty(r.Node))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = newTable(w)
	fmt.Fprintln(tw, "SERVICE\tGATEWAY\tREADY\tDEPENDS ON")
	for _, s := range st.Services {
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\n", s.Name, s.URL, s.Ready, s.Replicas, dashIfEmpty(strings.Join(s.DependsOn, ",")))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = newTable(w)
	fmt.Fprintln(tw, "NODE\tSTATUS\tREPLICAS\tLABELS")
	for _, n := range st.Nodes {
		count := 0
		for _, r := range st.Replicas {
			if r.Node == n.Name {
				count++
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", n.Name, nodeStatusWord(n), count, dashIfEmpty(formatLabels(n.Labels)))
	}
	tw.Flush()
}

func lastRestart(r local.ReplicaStatus) time.Time {
	var t time.Time
	for _, c := range r.Containers {
		if c.LastFinished.After(t) {
			t = c.LastFinished
		}
	}
	return t
}

func nodeStatusWord(n engine.Node) string {
	s := "Ready"
	if !n.Ready {
		s = "NotReady"
	}
	if !n.Schedulable {
		s += ",SchedulingDisabled"
	}
	return s
}

func formatLabels(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+l[k])
	}
	return strings.Join(parts, ",")
}

// kubeAge formats an age the way kubectl does: 45s, 3m20s, 25m, 5h10m, 3d.
func kubeAge(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 10*time.Minute:
		s := int(d.Seconds()) % 60
		if s == 0 {
			return fmt.Sprintf("%dm", int(d.Minutes()))
		}
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), s)
	case d < 3*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 8*time.Hour:
		m := int(d.Minutes()) % 60
		if m == 0 {
			return fmt.Sprintf("%dh", int(d.Hours()))
		}
		return fmt.Sprintf("%dh%dm", int(d.Hours()), m)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func newEnvDownCmd(stdio IO) *cobra.Command {
	var name string
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "down",
		Short: "Stop a running environment gracefully",
		Long: `Stop a running environment: every container gets SIGTERM, then SIGKILL after its
grace period; the gateways, the control socket and the cgroups go. When the
supervisor is already gone (it crashed or was killed), its leftovers are
cleaned up instead.`,
		Example: `  faultline env down
  faultline env down --name shop`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			stateDir := engine.StateDir()
			name, err := resolveEnvName(stateDir, name)
			if err != nil {
				return err
			}
			return envDown(c.Context(), stdio, stateDir, name, timeout)
		},
	}
	c.Flags().StringVar(&name, "name", "", "environment (default: the only one running)")
	c.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait for the supervisor to stop")
	return c
}

func envDown(ctx context.Context, stdio IO, stateDir, name string, timeout time.Duration) error {
	st, err := local.ReadState(stateDir, name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return envFailed(fmt.Errorf("environment %s is not running (no state in %s)", name, local.EnvDir(stateDir, name)))
		}
		return envFailed(err)
	}
	if !st.Owner.Alive() {
		if err := local.CleanupDir(stateDir, name); err != nil {
			return envFailed(fmt.Errorf("clean up environment %s: %w", name, err))
		}
		fmt.Fprintf(stdio.Out, "environment %s: its supervisor (pid %d) was gone; cleaned up what it left\n", name, st.Owner.PID)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := local.NewClient(st.Socket)
	defer client.Close()
	if err := client.Down(ctx); err != nil {
		return envFailed(fmt.Errorf("stop environment %s: %w", name, err))
	}
	// The socket closes once the replicas are stopped; the supervisor then
	// removes its cgroups and state and exits. Wait for that too, so the
	// environment is entirely gone when this returns.
	for st.Owner.Alive() && st.Owner.PID != os.Getpid() {
		select {
		case <-ctx.Done():
			return envFailed(fmt.Errorf("environment %s: supervisor pid %d still runs: %w", name, st.Owner.PID, ctx.Err()))
		case <-time.After(50 * time.Millisecond):
		}
	}
	fmt.Fprintf(stdio.Out, "environment %s stopped\n", name)
	return nil
}

func newEnvLogsCmd(stdio IO) *cobra.Command {
	var name, container string
	var follow, previous bool
	c := &cobra.Command{
		Use:   "logs REPLICA",
		Short: "Print the log of a replica",
		Long: `Print what a replica's container wrote to stdout and stderr, like kubectl logs.
--previous prints the log of the container's previous run (before its last
restart). Logs outlive the environment: after 'env down' they are read
from the state directory.`,
		Example: `  faultline env logs api-0
  faultline env logs api-0 -f
  faultline env logs api-0 --previous -c proxy`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			stateDir := engine.StateDir()
			env, err := resolveEnvName(stateDir, name)
			if err != nil {
				return err
			}
			opts := local.LogOptions{Container: container, Previous: previous, Follow: follow}
			if client, err := local.Dial(stateDir, env); err == nil {
				defer client.Close()
				rc, err := client.Logs(c.Context(), args[0], opts)
				if err != nil {
					return envFailed(err)
				}
				defer rc.Close()
				_, err = io.Copy(stdio.Out, rc)
				if err != nil && c.Context().Err() == nil {
					return envFailed(err)
				}
				return nil
			}
			return envLogsFromDisk(stdio, stateDir, env, args[0], opts)
		},
	}
	c.Flags().StringVar(&name, "name", "", "environment (default: the only one running)")
	c.Flags().StringVarP(&container, "container", "c", "", "container (default: the replica's main container)")
	c.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new output, across restarts")
	c.Flags().BoolVarP(&previous, "previous", "p", false, "print the log of the previous run")
	return c
}

// envLogsFromDisk reads a log file of an environment whose supervisor is
// gone: <replica>.log for the main container (named after the service),
// <replica>.<container>.log for a sidecar.
func envLogsFromDisk(stdio IO, stateDir, env, replica string, opts local.LogOptions) error {
	dir := filepath.Join(local.EnvDir(stateDir, env), "logs")
	file := replica + ".log"
	svc := replica
	if i := strings.LastIndexByte(replica, '-'); i > 0 {
		svc = replica[:i]
	}
	if opts.Container != "" && opts.Container != svc {
		file = replica + "." + opts.Container + ".log"
	}
	if opts.Previous {
		file += ".1"
	}
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return envFailed(fmt.Errorf("no log %s of environment %s (%s)", file, env, dir))
		}
		return envFailed(err)
	}
	_, err = io.Copy(stdio.Out, bytes.NewReader(data))
	return err
}

func newEnvListCmd(stdio IO) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "list",
		Short: "List the local environments and whether their supervisors run",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			envs, err := local.ListEnvironments(engine.StateDir())
			if err != nil {
				return envFailed(err)
			}
			if envs == nil {
				envs = []local.EnvironmentInfo{}
			}
			if output != outTable {
				return writeStructured(stdio.Out, output, envs)
			}
			tw := newTable(stdio.Out)
			fmt.Fprintln(tw, "NAME\tSTATUS\tPID\tREPLICAS\tAGE\tSOCKET")
			for _, e := range envs {
				status := "Running"
				if !e.Running {
					status = "Dead (run 'faultline env down --name " + e.Name + "')"
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", e.Name, status, e.PID, e.Replicas, kubeAge(time.Since(e.Started)), e.Socket)
			}
			return tw.Flush()
		},
	}
	addOutputFlag(c, &output)
	return c
}
