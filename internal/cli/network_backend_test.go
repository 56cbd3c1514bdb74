package cli

import (
	"strings"
	"testing"
)

const delayWeb = `apiVersion: chaos-mesh.org/v1alpha1
kind: NetworkChaos
metadata: {name: slow-web}
spec:
  action: delay
  mode: all
  selector: {labelSelectors: {tier: web}}
  delay: {latency: "50ms"}
  duration: 1s
`

const lossWeb = `apiVersion: chaos-mesh.org/v1alpha1
kind: NetworkChaos
metadata: {name: lossy-web}
spec:
  action: loss
  mode: all
  selector: {labelSelectors: {tier: web}}
  loss: {loss: "30"}
  duration: 1s
`

func TestNetworkBackendFlag(t *testing.T) {
	startTestEnv(t, "clinetbackend")
	delay, loss := writeFile(t, delayWeb), writeFile(t, lossWeb)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"inject: unknown backend", []string{"inject", "-f", delay, "--network-backend", "tc"}, ExitUsage, `network backend "tc"`},
		{"run: unknown backend", []string{"run", "-f", delay, "--network-backend", "tc"}, ExitUsage, `network backend "tc"`},
		{"loss forced on the proxy", []string{"inject", "-f", loss, "--network-backend", "proxy", "--dry-run"}, ExitInvalid, "proxy network backend cannot honour loss"},
		{"delay on the proxy", []string{"inject", "-f", delay, "--network-backend", "proxy", "--dry-run"}, ExitOK, ""},
		{"delay, auto", []string{"inject", "-f", delay, "--dry-run"}, ExitOK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := run(t, "", tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, want %d and %q\nstdout:\n%s\nstderr:\n%s", code, tc.code, tc.want, out, errs)
			}
			if code == ExitOK && !strings.Contains(out, "NetworkChaos/slow-web") {
				t.Fatalf("dry run lists no target:\n%s", out)
			}
		})
	}
	// A real injection shows the delay in the fidelity table.
	code, out, errs := run(t, "", "inject", "-f", delay, "--network-backend", "proxy")
	if code != ExitOK || !strings.Contains(out, "delay") || !strings.Contains(out, "50ms") {
		t.Fatalf("inject: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if es := journalEntries(t); len(es) != 0 {
		t.Fatalf("journal: %+v", es)
	}
}
