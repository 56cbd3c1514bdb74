package stress

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Spec is one StressChaos stressor set, in Chaos Mesh's terms (the caller
// maps a chaos-mesh.org/v1alpha1 StressChaos onto it).
type Spec struct {
	// CPUWorkers is the number of CPU stress workers (stress-ng --cpu),
	// 0 for none, at most 8192 as in Chaos Mesh.
	CPUWorkers int
	// CPULoad is the busy percentage of each CPU worker, 0 (idle) to 100
	// (a full core); nil means 100, Chaos Mesh's default.
	CPULoad *int
	// MemoryWorkers is the number of memory workers (stress-ng --vm), 0
	// for none.
	MemoryWorkers int
	// MemorySize is the memory the memory workers hold in total ("256MB",
	// "1GB", "512MiB", bytes without a unit, or "50%" of the target
	// cgroup's memory limit — of total memory when it has none), shared
	// equally by the workers. Units are binary (1MB = 1MiB = 2^20 bytes),
	// as stress-ng and Chaos Mesh's memStress read them. Empty means 100%,
	// Chaos Mesh's "all available memory".
	MemorySize string
	// MemoryOOMScoreAdj is the oom_score_adj of the stressor processes,
	// -1000 (never OOM-killed) to 1000 (killed first); 0 by default as in
	// Chaos Mesh. It replaces the 1000 stress-ng gives its memory workers.
	// Negative values need CAP_SYS_RESOURCE.
	MemoryOOMScoreAdj int
	// Options are extra stress-ng options appended to the generated ones
	// (Chaos Mesh's stressors' `options`), e.g. "--cpu-method matrixprod".
	Options []string
	// StressNG is a raw stress-ng command line (Chaos Mesh's
	// stressngStressors), e.g. "--cpu 2 --cpu-load 50". When set it wins
	// over every field above, as in Chaos Mesh.
	StressNG string
	// SafetyTimeout is passed as stress-ng --timeout: not the fault's
	// duration (the caller stops the stressor) but a backstop so a
	// stressor orphaned by a crash ends on its own. Callers pass the
	// duration plus a margin. 0 means DefaultSafetyTimeout.
	SafetyTimeout time.Duration
}

// DefaultSafetyTimeout is the backstop for a stressor started without
// SafetyTimeout, e.g. one that lasts until the experiment ends.
const DefaultSafetyTimeout = time.Hour

// maxWorkers is Chaos Mesh's limit on workers per stressor.
const maxWorkers = 8192

// minVMBytesPerWorker is the smallest mapping stress-ng's vm stressor
// takes.
const minVMBytesPerWorker = 4096

// Asked is what a Spec asks for in measurable units, resolved at Start (a
// percentage size needs the cgroup's limit), for the report's "asked"
// column. Zero values mean "not asked" or, for a raw StressNG line, "not
// known".
type Asked struct {
	// Cores is CPU workers × load / 100.
	Cores float64
	// MemoryBytes is the total memory the memory workers are to hold.
	MemoryBytes int64
}

// command is a Spec resolved into stress-ng arguments.
type command struct {
	args  []string
	asked Asked
	// workers is how many worker processes stress-ng forks directly, so
	// Start can wait for them; 0 when unknown (raw StressNG).
	workers int
	// memoryWorkers says memory is held by "stress-ng-vm" processes.
	memoryWorkers bool
}

// build validates s and translates it into stress-ng arguments the way
// Chaos Mesh does: cpu is `--cpu N [--cpu-load L]`, memory is
// `--vm N --vm-bytes TOTAL --vm-hang 0`. stress-ng 0.15 divides --vm-bytes
// among the vm workers itself; --vm-hang 0 makes each worker touch its
// memory once and then hold it without rewriting, so a memory stressor
// does not double as a CPU stressor (Chaos Mesh's memStress behaves the
// same way). memoryBase is what a percentage size is a percentage of.
func (s Spec) build(memoryBase func() (int64, error)) (command, error) {
	if s.SafetyTimeout < 0 {
		return command{}, fmt.Errorf("safety timeout %v: want >= 0", s.SafetyTimeout)
	}
	timeout := s.SafetyTimeout
	if timeout == 0 {
		timeout = DefaultSafetyTimeout
	}
	// stress-ng takes whole seconds; round up so the backstop is never
	// shorter than asked.
	timeoutArgs := []string{"--timeout", strconv.FormatInt(int64(math.Ceil(timeout.Seconds())), 10) + "s"}

	if strings.TrimSpace(s.StressNG) != "" {
		args := strings.Fields(s.StressNG)
		if err := checkRawOptions(args); err != nil {
			return command{}, fmt.Errorf("stressngStressors %q: %w", s.StressNG, err)
		}
		return command{args: append(args, timeoutArgs...)}, nil
	}

	var c command
	if s.CPUWorkers < 0 || s.CPUWorkers > maxWorkers {
		return command{}, fmt.Errorf("cpu workers %d: want 0 to %d", s.CPUWorkers, maxWorkers)
	}
	if s.MemoryWorkers < 0 || s.MemoryWorkers > maxWorkers {
		return command{}, fmt.Errorf("memory workers %d: want 0 to %d", s.MemoryWorkers, maxWorkers)
	}
	if s.CPUWorkers == 0 && s.MemoryWorkers == 0 {
		return command{}, fmt.Errorf("no stressor: set cpu workers, memory workers or a stress-ng command line")
	}
	if s.MemoryOOMScoreAdj < -1000 || s.MemoryOOMScoreAdj > 1000 {
		return command{}, fmt.Errorf("oomScoreAdj %d: want -1000 to 1000", s.MemoryOOMScoreAdj)
	}
	if s.CPUWorkers > 0 {
		load := 100
		if s.CPULoad != nil {
			load = *s.CPULoad
		}
		if load < 0 || load > 100 {
			return command{}, fmt.Errorf("cpu load %d%%: want 0 to 100", load)
		}
		c.args = append(c.args, "--cpu", strconv.Itoa(s.CPUWorkers))
		if s.CPULoad != nil {
			c.args = append(c.args, "--cpu-load", strconv.Itoa(load))
		}
		c.asked.Cores = float64(s.CPUWorkers) * float64(load) / 100
		c.workers += s.CPUWorkers
	}
	if s.MemoryWorkers > 0 {
		size, err := resolveSize(s.MemorySize, memoryBase)
		if err != nil {
			return command{}, err
		}
		if size < int64(s.MemoryWorkers)*minVMBytesPerWorker {
			return command{}, fmt.Errorf("memory size %q is %d bytes: want at least %d bytes per worker", s.MemorySize, size, minVMBytesPerWorker)
		}
		c.args = append(c.args, "--vm", strconv.Itoa(s.MemoryWorkers), "--vm-bytes", strconv.FormatInt(size, 10), "--vm-hang", "0")
		c.asked.MemoryBytes = size
		c.workers += s.MemoryWorkers
		c.memoryWorkers = true
	}
	for _, o := range s.Options {
		c.args = append(c.args, strings.Fields(o)...)
	}
	if err := checkRawOptions(c.args); err != nil {
		return command{}, fmt.Errorf("options %q: %w", s.Options, err)
	}
	c.args = append(c.args, timeoutArgs...)
	return c, nil
}

// checkRawOptions refuses what would take the stressor's lifetime out of
// the caller's hands: faultline stops it when the fault ends and passes its
// own backstop timeout, so a --timeout of the user's would be silently
// overridden — an error says so instead.
func checkRawOptions(args []string) error {
	for _, a := range args {
		if a == "-t" || a == "--timeout" || strings.HasPrefix(a, "--timeout=") || (strings.HasPrefix(a, "-t") && len(a) > 2 && a[2] >= '0' && a[2] <= '9') {
			return fmt.Errorf("%q: the fault's duration sets how long stress runs; remove the timeout", a)
		}
	}
	return nil
}

var sizeRE = regexp.MustCompile(`^(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|b)?$`)

// resolveSize turns a Chaos Mesh memory size into bytes.
func resolveSize(size string, base func() (int64, error)) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(size))
	if s == "" {
		s = "100%"
	}
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		p, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil || math.IsNaN(p) || p <= 0 || p > 100 {
			return 0, fmt.Errorf("memory size %q: want a percentage above 0 and at most 100", size)
		}
		b, err := base()
		if err != nil {
			return 0, fmt.Errorf("memory size %q: %w", size, err)
		}
		return int64(float64(b) * p / 100), nil
	}
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("memory size %q: want bytes with an optional unit (B, KB/KiB, MB/MiB, GB/GiB, TB/TiB) or a percentage, e.g. 256MB or 50%%", size)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("memory size %q: %w", size, err)
	}
	shift := map[string]uint{"": 0, "k": 10, "m": 20, "g": 30, "t": 40}[m[2]]
	v := n * float64(uint64(1)<<shift)
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("memory size %q is too large", size)
	}
	return int64(v), nil
}

// totalMemory is MemTotal from /proc/meminfo, the base of a percentage
// size when the cgroup has no memory limit.
func totalMemory() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("read total memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("read total memory: parse %q: %w", sc.Text(), err)
			}
			return kb << 10, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read total memory: %w", err)
	}
	return 0, fmt.Errorf("read total memory: no MemTotal in /proc/meminfo")
}
