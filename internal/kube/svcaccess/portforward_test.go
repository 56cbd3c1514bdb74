package svcaccess

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline-dev/faultline/internal/kube/testenv"
)

// kubeletNode is a Node whose "kubelet" is a kwok process of this test
// serving the kubelet port-forward API on 127.0.0.1: the API server reaches
// it at the node's address and kubelet port, and kwok forwards each stream
// to the target its PortForward objects name for the pod (a local server).
//
// The Node does not carry testenv's kwok annotation, so testenv's kwok leaves
// it and its pods alone; this kwok manages only it.
type kubeletNode struct {
	name string
}

// pfTarget maps a pod to the local address its port-forward streams reach.
type pfTarget struct {
	pod  string
	port int32 // the pod (container) port
	addr string
}

func startKubeletNode(t *testing.T, env *testenv.Env, ns string, targets []pfTarget) *kubeletNode {
	t.Helper()
	dir := t.TempDir()
	name := "pf-node-" + randSuffix()
	port := freePort(t)

	// Serving certificate: the API server does not verify kubelets when it
	// has no --kubelet-certificate-authority, as here.
	certFile, keyFile := selfSigned(t, dir)

	var cfg strings.Builder
	for _, tg := range targets {
		host, p, err := net.SplitHostPort(tg.addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&cfg, `---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: PortForward
metadata:
  name: %s
  namespace: %s
spec:
  forwards:
  - ports: [%d]
    target:
      address: %q
      port: %s
`, tg.pod, ns, tg.port, host, p)
	}
	pfConfig := filepath.Join(dir, "portforward.yaml")
	if err := os.WriteFile(pfConfig, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: corev1.NodeStatus{
			// The API server prefers the Hostname address, then InternalIP:
			// both point at the kwok server.
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeHostName, Address: "127.0.0.1"},
				{Type: corev1.NodeInternalIP, Address: "127.0.0.1"},
			},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(port)}},
		},
	}
	if _, err := env.Clientset.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create node: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = env.Clientset.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
	})

	logFile, err := os.Create(filepath.Join(dir, "kwok.log"))
	if err != nil {
		t.Fatal(err)
	}
	pctx, pcancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(pctx, filepath.Join(env.BinDir, "kwok"),
		"--kubeconfig", env.Kubeconfig,
		"--config", filepath.Join(env.BinDir, "kwok-stages.yaml"),
		"--config", pfConfig,
		"--manage-all-nodes=false",
		"--manage-single-node", name,
		"--server-address", "127.0.0.1:"+strconv.Itoa(port),
		"--tls-cert-file", certFile, "--tls-private-key-file", keyFile,
		"--node-lease-duration-seconds", "40",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		pcancel()
		t.Fatalf("start kwok: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		pcancel()
		<-exited
		_ = logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			t.Logf("kwok (port-forward node) log tail:\n%s", strings.Join(lines[max(0, len(lines)-30):], "\n"))
		}
	})
	waitFor(t, "kwok kubelet server on 127.0.0.1:"+strconv.Itoa(port), func() bool {
		select {
		case <-exited:
			t.Fatalf("kwok exited; log %s", logFile.Name())
		default:
		}
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	})
	return &kubeletNode{name: name}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "kwok-kubelet"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "kubelet.crt"), filepath.Join(dir, "kubelet.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// pod creates a pod bound to node (no scheduler involved).
func pod(t *testing.T, env *testenv.Env, ns, name, node string, port int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{
			NodeName: node,
			Containers: []corev1.Container{{
				Name: "app", Image: "registry.invalid/app:1",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: port}},
			}},
		},
	}
	if _, err := env.Clientset.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s/%s: %v", ns, name, err)
	}
}

// Port-forward through a real API server to kwok's kubelet port-forward API:
// connections spread over the ready pods, one upgraded connection per pod
// carries every stream, readiness is followed, a pod whose port refuses is
// reported, and Close leaves nothing running.
func TestPortForward(t *testing.T) {
	env := kube.Env(t)
	ns := namespace(t, env, "pf")
	ba := startBackend(t, "127.0.0.2", "a")
	bb := startBackend(t, "127.0.0.3", "b")
	deadLn, err := net.Listen("tcp", "127.0.0.4:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := deadLn.Addr().String()
	_ = deadLn.Close()

	const podPort = 8080
	node := startKubeletNode(t, env, ns, []pfTarget{
		{pod: "pod-a", port: podPort, addr: fmt.Sprintf("127.0.0.2:%d", ba.port)},
		{pod: "pod-b", port: podPort, addr: fmt.Sprintf("127.0.0.3:%d", bb.port)},
		{pod: "pod-dead", port: podPort, addr: deadAddr},
	})
	for _, p := range []string{"pod-a", "pod-b", "pod-dead"} {
		pod(t, env, ns, p, node.name, podPort)
	}
	service(t, env, ns, "gateway", svcPort("http", 80))
	// Pod IPs are never dialed in port-forward mode; any valid address does.
	typ := discoveryv1.AddressTypeIPv4
	slice(t, env, ns, "gateway", "gateway-a", typ, "10.244.0.10", "pod-a", "http", podPort, true)
	slice(t, env, ns, "gateway", "gateway-b", typ, "10.244.0.11", "pod-b", "http", podPort, true)
	slice(t, env, ns, "gateway", "gateway-dead", typ, "10.244.0.12", "pod-dead", "http", podPort, false)

	a, err := New(env.Config, env.Clientset, Options{Mode: ModePortForward, Namespaces: []string{ns}, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	closeAccess := func() {
		if closed {
			return
		}
		closed = true
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := a.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	t.Cleanup(closeAccess)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url, err := a.Resolve(ctx, "gateway."+ns)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	c := newClient()
	const n = 20

	got := hits(t, c, url, n)
	if got["a"] == 0 || got["b"] == 0 || got["a"]+got["b"] != n {
		t.Fatalf("answers %v: want %d requests spread over a and b", got, n)
	}
	st := a.Stats()
	if st.Connections[ns+"/pod-a"]+st.Connections[ns+"/pod-b"] != n {
		t.Fatalf("Stats.Connections %v: want %d over pod-a and pod-b", st.Connections, n)
	}
	if st.PodConnections != 2 {
		t.Fatalf("Stats.PodConnections = %d, want 2 (one per pod, streams for every request)", st.PodConnections)
	}

	// b not ready: everything goes to a.
	slice(t, env, ns, "gateway", "gateway-b", typ, "10.244.0.11", "pod-b", "http", podPort, false)
	waitReady(t, a, ns, "gateway", "http", 1)
	if got := hits(t, c, url, n); got["a"] != n {
		t.Fatalf("answers %v with pod-b not ready, want all %d from a", got, n)
	}

	// Only the pod whose port refuses is ready: requests fail and the pod
	// side's error is counted.
	slice(t, env, ns, "gateway", "gateway-a", typ, "10.244.0.10", "pod-a", "http", podPort, false)
	slice(t, env, ns, "gateway", "gateway-dead", typ, "10.244.0.12", "pod-dead", "http", podPort, true)
	waitReady(t, a, ns, "gateway", "http", 1)
	before := a.Stats()
	for range 3 {
		body, err := get(c, url)
		if err == nil {
			t.Fatalf("request to a pod with nothing listening answered %q", body)
		}
		// The kubelet's error ends the connection: the client sees it
		// closed, not its own timeout running out.
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("request to a pod with nothing listening timed out instead of failing: %v", err)
		}
	}
	waitFor(t, "forward errors reported", func() bool { return a.Stats().ForwardErrors >= before.ForwardErrors+3 })

	closeAccess()
	noGoroutinesLeft(t)
}
