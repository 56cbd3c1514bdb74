package local

import (
	"testing"
	"time"

	"github.com/faultline-dev/faultline/internal/envref"
)

func TestBackoffLikeKubelet(t *testing.T) {
	b := backoff{base: 10 * time.Second, max: 5 * time.Minute, reset: 10 * time.Minute}
	want := []time.Duration{0, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second,
		160 * time.Second, 5 * time.Minute, 5 * time.Minute}
	for i, w := range want {
		if got := b.next(time.Second); got != w {
			t.Fatalf("restart %d: %s, want %s", i+1, got, w)
		}
	}
	// Ten minutes of running forgive everything.
	if got := b.next(10 * time.Minute); got != 0 {
		t.Fatalf("after a long run: %s", got)
	}
	if got := b.next(time.Second); got != 10*time.Second {
		t.Fatalf("then: %s", got)
	}
}

func TestExpandVars(t *testing.T) {
	vars := map[string]string{"PORT": "8080", "NAME": "api-0"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	for in, want := range map[string]string{
		"--port=$(PORT)":     "--port=8080",
		"$(NAME):$(PORT)":    "api-0:8080",
		"$(MISSING)":         "$(MISSING)",
		"$$(PORT)":           "$(PORT)",
		"cost $5":            "cost $5",
		"$(UNCLOSED":         "$(UNCLOSED",
		"plain":              "plain",
		"trailing $":         "trailing $",
		"$(PORT)$(PORT)/x$y": "80808080/x$y",
	} {
		if got := envref.Expand(in, lookup); got != want {
			t.Errorf("expand %q = %q, want %q", in, got, want)
		}
	}
}

func TestParseQuantity(t *testing.T) {
	for in, want := range map[string]int64{"512Mi": 512 << 20, "1Gi": 1 << 30, "256M": 256e6, "1048576": 1048576, "1.5Gi": 3 << 29, "1k": 1000} {
		got, err := parseQuantity(in)
		if err != nil || got != want {
			t.Errorf("%s = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1Mi", "1MB", "Mi", "1e3"} {
		if _, err := parseQuantity(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDependencyCycle(t *testing.T) {
	svcs := []*servicePlan{{name: "a", dependsOn: []string{"b"}}, {name: "b", dependsOn: []string{"c"}}, {name: "c", dependsOn: []string{"a"}}}
	if got := dependencyCycle(svcs); got != "a → b → c → a" {
		t.Fatalf("cycle %q", got)
	}
	svcs[2].dependsOn = nil
	if got := dependencyCycle(svcs); got != "" {
		t.Fatalf("no cycle, got %q", got)
	}
}
