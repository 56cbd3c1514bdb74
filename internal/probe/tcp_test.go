package probe

import (
	"net"
	"testing"

	"github.com/faultline-dev/faultline/api/v1alpha1"
)

func TestTCPProbe(t *testing.T) {
	open, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	go func() {
		for {
			c, err := open.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	// A port that was just released is closed: connecting is refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	env := StaticEnv{URLs: map[string]string{"web": "http://" + open.Addr().String(), "gone": "http://" + closed}}
	tests := []struct {
		name string
		spec v1alpha1.ProbeTCP
		ok   bool
		msg  []string
	}{
		{"open port", v1alpha1.ProbeTCP{Address: open.Addr().String()}, true, []string{"connected to " + open.Addr().String()}},
		{"closed port", v1alpha1.ProbeTCP{Address: closed}, false, []string{"dial tcp " + closed + ": connect: connection refused"}},
		{"service", v1alpha1.ProbeTCP{Service: "web"}, true, nil},
		{"service down", v1alpha1.ProbeTCP{Service: "gone"}, false, []string{"refused"}},
		{"unknown service", v1alpha1.ProbeTCP{Service: "db"}, false, []string{"resolve service db"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustNew(t, v1alpha1.ExperimentProbe{Name: "tcp", Type: v1alpha1.ProbeTCPType, TCP: &tc.spec}, env)
			checkWant(t, check(t, p), tc.ok, tc.msg...)
		})
	}
}
