package stress

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestBuildTranslatesLikeChaosMesh(t *testing.T) {
	base := func() (int64, error) { return 1 << 30, nil } // a 1 GiB cgroup limit
	tests := []struct {
		name  string
		spec  Spec
		args  string
		asked Asked
	}{
		{"cpu at full load by default", Spec{CPUWorkers: 2}, "--cpu 2 --timeout 3600s", Asked{Cores: 2}},
		{"cpu with load", Spec{CPUWorkers: 2, CPULoad: new(80)}, "--cpu 2 --cpu-load 80 --timeout 3600s", Asked{Cores: 1.6}},
		{"cpu idle", Spec{CPUWorkers: 1, CPULoad: new(0)}, "--cpu 1 --cpu-load 0 --timeout 3600s", Asked{}},
		{"memory total shared by workers", Spec{MemoryWorkers: 4, MemorySize: "256MB"},
			"--vm 4 --vm-bytes 268435456 --vm-hang 0 --timeout 3600s", Asked{MemoryBytes: 256 << 20}},
		{"memory percentage of the limit", Spec{MemoryWorkers: 1, MemorySize: "50%"},
			"--vm 1 --vm-bytes 536870912 --vm-hang 0 --timeout 3600s", Asked{MemoryBytes: 512 << 20}},
		{"memory default is all of it", Spec{MemoryWorkers: 1},
			"--vm 1 --vm-bytes 1073741824 --vm-hang 0 --timeout 3600s", Asked{MemoryBytes: 1 << 30}},
		{"both, options and safety timeout rounded up", Spec{CPUWorkers: 1, CPULoad: new(50), MemoryWorkers: 1, MemorySize: "1.5GiB",
			Options: []string{"--cpu-method matrixprod"}, SafetyTimeout: 90*time.Second + time.Millisecond},
			"--cpu 1 --cpu-load 50 --vm 1 --vm-bytes 1610612736 --vm-hang 0 --cpu-method matrixprod --timeout 91s",
			Asked{Cores: 0.5, MemoryBytes: 3 << 29}},
		{"raw stress-ng line wins", Spec{CPUWorkers: 8, StressNG: " --cpu 2  --io 1 "}, "--cpu 2 --io 1 --timeout 3600s", Asked{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.spec.build(base)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(c.args, " "); got != tt.args {
				t.Errorf("args = %q, want %q", got, tt.args)
			}
			if c.asked != tt.asked {
				t.Errorf("asked = %+v, want %+v", c.asked, tt.asked)
			}
		})
	}
}

func TestBuildRejects(t *testing.T) {
	base := func() (int64, error) { return 1 << 30, nil }
	for name, s := range map[string]Spec{
		"nothing":               {},
		"negative workers":      {CPUWorkers: -1},
		"too many workers":      {MemoryWorkers: 8193, MemorySize: "1GB"},
		"load over 100":         {CPUWorkers: 1, CPULoad: new(101)},
		"negative load":         {CPUWorkers: 1, CPULoad: new(-1)},
		"bad size":              {MemoryWorkers: 1, MemorySize: "lots"},
		"bad unit":              {MemoryWorkers: 1, MemorySize: "12XB"},
		"zero percent":          {MemoryWorkers: 1, MemorySize: "0%"},
		"over 100 percent":      {MemoryWorkers: 1, MemorySize: "150%"},
		"too small per worker":  {MemoryWorkers: 4, MemorySize: "8KB"},
		"oom adj out of range":  {MemoryWorkers: 1, MemorySize: "1MB", MemoryOOMScoreAdj: 1001},
		"timeout in raw line":   {StressNG: "--cpu 1 --timeout 10s"},
		"short timeout in raw":  {StressNG: "--cpu 1 -t60"},
		"timeout in options":    {CPUWorkers: 1, Options: []string{"-t 5"}},
		"negative safety limit": {CPUWorkers: 1, SafetyTimeout: -time.Second},
	} {
		if c, err := s.build(base); err == nil {
			t.Errorf("%s: %+v accepted as %q", name, s, c.args)
		}
	}
	// A percentage whose base cannot be read is an error, not a guess.
	broken := func() (int64, error) { return 0, errors.New("no stats") }
	if _, err := (Spec{MemoryWorkers: 1, MemorySize: "10%"}).build(broken); err == nil {
		t.Error("percentage without a base accepted")
	}
}

func TestResolveSize(t *testing.T) {
	base := func() (int64, error) { return 1000, nil }
	for in, want := range map[string]int64{
		"4096": 4096, "10B": 10, "1k": 1 << 10, "1KB": 1 << 10, "1KiB": 1 << 10, "256MB": 256 << 20,
		"256mib": 256 << 20, "1GB": 1 << 30, "1 GiB": 1 << 30, "2T": 2 << 40, "0.5GB": 512 << 20, "25%": 250, "100%": 1000,
	} {
		got, err := resolveSize(in, base)
		if err != nil || got != want {
			t.Errorf("resolveSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

func TestTotalMemory(t *testing.T) {
	n, err := totalMemory()
	if err != nil || n < 64<<20 {
		t.Fatalf("totalMemory() = %d, %v", n, err)
	}
}

func TestRawOptionsCheck(t *testing.T) {
	for _, ok := range [][]string{{"--cpu", "1"}, {"--tz", "1"}, {"-tz"}, {"--taskset", "0"}} {
		if err := checkRawOptions(ok); err != nil {
			t.Errorf("checkRawOptions(%q) = %v", ok, err)
		}
	}
	for _, bad := range [][]string{{"-t", "5"}, {"--timeout", "5"}, {"--timeout=5"}, {"-t5"}} {
		if err := checkRawOptions(bad); err == nil {
			t.Errorf("checkRawOptions(%q) accepted", bad)
		}
	}
}
