// Package testenv starts a real Kubernetes control plane for tests: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and kwok, each a
// separate process on loopback, with certificates and keys made for that
// environment alone.
//
// kwok stands in for kubelets: it keeps fake Nodes Ready and moves pods that
// the scheduler binds to them through Pending to Running/Ready, so
// Deployments, ReplicaSets, evictions, cordons and rescheduling behave as in a
// cluster, without containers. Hundreds or thousands of pods fit on a laptop.
//
// Exec pods extend that stand-in: pods labelled ExecLabel=true are backed by
// real local processes listening on the loopback twins of their pod IPs, made
// Ready from their own readiness probes, restarted when they exit and stopped
// when deleted, with a userspace stand-in for kube-proxy serving each Service
// on a loopback address (Env.Exec, ExecOptions, Exec.ServiceAddr).
//
// The binaries come from hack/kube-testenv.sh, which builds them from the Go
// module proxy and caches them under ~/.cache/faultline/kube/<version>/bin.
// When they cannot be built, Start skips the test with the reason, unless CI
// is set, where it fails: CI must never silently lose these tests.
//
// Every environment picks free ports and its own directory, so test packages
// may run in parallel. Processes run in their own process groups with a parent
// death signal and are all stopped on cleanup; nothing is left outside the
// environment's directory.
//
// One environment per test:
//
//	env := testenv.Start(t, testenv.Options{Nodes: 3})
//	cs := env.Clientset
//
// One environment shared by the tests of a package, started on first use:
//
//	var kube = testenv.NewShared(testenv.Options{Nodes: 3})
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		kube.Stop()
//		os.Exit(code)
//	}
//
//	func TestX(t *testing.T) { env := kube.Env(t); ... }
package testenv
