package v1alpha1

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// StressChaos burns CPU or memory inside pods (chaos-mesh.org/v1alpha1).
type StressChaos struct {
	// TypeMeta is apiVersion chaos-mesh.org/v1alpha1 and the kind.
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's name, namespace, labels and annotations.
	ObjectMeta `json:"metadata"`
	// Spec says which containers are stressed and how.
	Spec StressChaosSpec `json:"spec"`
	// Status is written by a cluster; faultline ignores it.
	Status Raw `json:"status,omitempty"`
}

// StressChaosSpec is the fault of a StressChaos. At least one of stressors
// and stressngStressors is required.
type StressChaosSpec struct {
	// ContainerSelector chooses the pods and the containers whose cgroup is
	// stressed.
	ContainerSelector `json:",inline"`
	// Stressors are the CPU and memory stressors to run.
	Stressors *Stressors `json:"stressors,omitempty"`
	// StressngStressors is a raw stress-ng command line (see `man stress-ng`),
	// e.g. "--cpu 2 --cpu-load 50". When both it and stressors are given, it
	// wins and stressors is ignored, as in Chaos Mesh.
	StressngStressors string `json:"stressngStressors,omitempty"`
	// Duration the stress lasts, e.g. "30s". Default: until the experiment
	// ends. In a Workflow use the template's deadline instead.
	Duration *string `json:"duration,omitempty"`
	// RemoteCluster names the Chaos Mesh RemoteCluster to run in; only the
	// Kubernetes engine uses it.
	RemoteCluster string `json:"remoteCluster,omitempty"`
}

// GetDuration returns the fault's duration string, nil when unset.
func (s *StressChaosSpec) GetDuration() *string { return s.Duration }

// Stressors groups the stressors; at least one must be set.
type Stressors struct {
	// Memory allocates and touches memory.
	Memory *MemoryStressor `json:"memory,omitempty"`
	// CPU keeps CPUs busy.
	CPU *CPUStressor `json:"cpu,omitempty"`
}

// Stressor holds what every stressor has.
type Stressor struct {
	// Workers is the number of stress processes, from 1 to 8192. Required.
	Workers int `json:"workers"`
}

// MemoryStressor allocates and holds memory, split across its workers.
type MemoryStressor struct {
	// Stressor holds the worker count.
	Stressor `json:",inline"`
	// Size is the total memory the workers allocate and hold, split evenly
	// among them (as stress-ng's --vm-bytes and Chaos Mesh's docs have it):
	// bytes with an optional unit ("256MB", "1GB", "512MiB"; units B,
	// KB/KiB, MB/MiB, GB/GiB, TB/TiB, all binary) or a percentage of the
	// target's memory limit, or of the machine's memory without one ("50%").
	// Default: all available memory.
	Size string `json:"size,omitempty"`
	// OOMScoreAdj of the stress processes, from -1000 (never OOM-killed) to
	// 1000 (killed first). Default 0.
	OOMScoreAdj int `json:"oomScoreAdj,omitempty"`
	// Options are extra stress-ng options, e.g. ["--vm-hang 1"].
	Options []string `json:"options,omitempty"`
}

// CPUStressor keeps CPUs busy in each worker.
type CPUStressor struct {
	// Stressor holds the worker count.
	Stressor `json:",inline"`
	// Load is the busy percentage of each worker, from 0 (idle) to 100 (a
	// full core). Default 100.
	Load *int `json:"load,omitempty"`
	// Options are extra stress-ng options, e.g. ["--cpu-method matrixprod"].
	Options []string `json:"options,omitempty"`
}

// ParseMemorySize parses a memory stressor size: bytes with an optional
// unit ("256MB", "1.5GiB", "4096"), or a percentage of available memory
// ("50%"). KB, MB, GB, TB are powers of 1000 and KiB, MiB, GiB, TiB powers
// of 1024; a bare K, M, G or T (with or without B) is a power of 1000, as in
// stress-ng. Exactly one of bytes and percent is non-zero on success.
func ParseMemorySize(s string) (bytes int64, percent int, err error) {
	v := strings.TrimSpace(s)
	if num, ok := strings.CutSuffix(v, "%"); ok {
		p, err := strconv.Atoi(strings.TrimSpace(num))
		if err != nil || p < 1 || p > 100 {
			return 0, 0, fmt.Errorf("size %q is not a percentage from 1%% to 100%%", s)
		}
		return 0, p, nil
	}
	m := memorySizeRe.FindStringSubmatch(v)
	if m == nil || m[2] == "" && m[3] != "" {
		return 0, 0, fmt.Errorf("size %q is not a memory size", s)
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, 0, fmt.Errorf("size %q is not a memory size", s)
	}
	base := 1000.0
	if m[3] != "" {
		base = 1024
	}
	exp := 0
	if m[2] != "" {
		exp = strings.Index("kmgtp", strings.ToLower(m[2])) + 1
	}
	f *= math.Pow(base, float64(exp))
	if f < 1 || f > math.MaxInt64/2 {
		return 0, 0, fmt.Errorf("size %q is out of range", s)
	}
	return int64(f), 0, nil
}

var memorySizeRe = regexp.MustCompile(`^(\d+(?:\.\d+)?) ?([kKmMgGtTpP]?)([iI]?)[bB]?$`)
