package v1alpha1

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// NetworkChaos delays, drops, duplicates, corrupts, throttles or partitions the
// network traffic of pods (chaos-mesh.org/v1alpha1).
type NetworkChaos struct {
	// TypeMeta is apiVersion chaos-mesh.org/v1alpha1 and the kind.
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's name, namespace, labels and annotations.
	ObjectMeta `json:"metadata"`
	// Spec says which traffic is hit and how.
	Spec NetworkChaosSpec `json:"spec"`
	// Status is written by a cluster; faultline ignores it.
	Status Raw `json:"status,omitempty"`
}

// NetworkChaosAction is the kind of network fault.
type NetworkChaosAction string

// NetworkChaos actions. delay, loss, duplicate, corrupt and netem are all
// netem faults: every one of delay, loss, duplicate, corrupt and rate that is
// set is applied, whichever of these actions is named (as in Chaos Mesh).
const (
	// NetworkNetem applies every netem parameter given (delay, loss,
	// duplicate, corrupt, rate) at once.
	NetworkNetem NetworkChaosAction = "netem"
	// NetworkDelay adds latency (needs delay).
	NetworkDelay NetworkChaosAction = "delay"
	// NetworkLoss drops packets (needs loss).
	NetworkLoss NetworkChaosAction = "loss"
	// NetworkDuplicate sends packets twice (needs duplicate).
	NetworkDuplicate NetworkChaosAction = "duplicate"
	// NetworkCorrupt flips bits in packets (needs corrupt).
	NetworkCorrupt NetworkChaosAction = "corrupt"
	// NetworkPartition drops all traffic between the selected pods and the
	// target (or externalTargets, or everything when neither is given).
	NetworkPartition NetworkChaosAction = "partition"
	// NetworkBandwidth limits throughput with a token bucket (needs bandwidth).
	NetworkBandwidth NetworkChaosAction = "bandwidth"
)

// Direction is which way the affected traffic flows, seen from the selected pods.
type Direction string

// Traffic directions.
const (
	// DirectionTo affects traffic from the selected pods to the target.
	DirectionTo Direction = "to"
	// DirectionFrom affects traffic from the target to the selected pods.
	DirectionFrom Direction = "from"
	// DirectionBoth affects both ways.
	DirectionBoth Direction = "both"
)

// NetworkChaosSpec is the fault of a NetworkChaos.
type NetworkChaosSpec struct {
	// PodSelector chooses the pods whose traffic is affected.
	PodSelector `json:",inline"`
	// Action is netem, delay, loss, duplicate, corrupt, partition or
	// bandwidth. Required.
	Action NetworkChaosAction `json:"action"`
	// Device is the network interface to affect in the selected pods, e.g.
	// eth0. Default: the pod's default interface. A suffix from `@` on
	// (eth0@if12) is ignored.
	Device string `json:"device,omitempty"`
	// Duration the fault lasts, e.g. "30s". Default: until the experiment
	// ends. In a Workflow use the template's deadline instead.
	Duration *string `json:"duration,omitempty"`
	// TcParameter holds the parameters of each action (delay, loss, ...).
	TcParameter `json:",inline"`
	// Direction of the affected traffic: to, from or both. Default: to.
	// from and both need a target (except for partition) and cannot be used
	// with externalTargets.
	Direction Direction `json:"direction,omitempty"`
	// Target limits the fault to traffic exchanged with these pods.
	// Default: traffic with any peer.
	Target *PodSelector `json:"target,omitempty"`
	// TargetDevice is the interface to affect in the target pods.
	// Default: their default interface.
	TargetDevice string `json:"targetDevice,omitempty"`
	// ExternalTargets limits the fault to traffic with peers outside the
	// cluster: IP addresses ("8.8.8.8"), CIDRs ("10.0.0.0/8"), host names
	// ("example.com"), each optionally with ":port" ("1.1.1.1:80").
	ExternalTargets []string `json:"externalTargets,omitempty"`
	// RemoteCluster names the Chaos Mesh RemoteCluster to run in; only the
	// Kubernetes engine uses it.
	RemoteCluster string `json:"remoteCluster,omitempty"`
}

// GetDuration returns the fault's duration string, nil when unset.
func (s *NetworkChaosSpec) GetDuration() *string { return s.Duration }

// TcParameter holds the traffic-control settings of a NetworkChaos; each is
// used by the action of the same name (and all netem ones by netem).
type TcParameter struct {
	// Delay adds latency to each packet (actions delay and netem).
	Delay *DelaySpec `json:"delay,omitempty"`
	// Loss drops a share of packets (actions loss and netem).
	Loss *LossSpec `json:"loss,omitempty"`
	// Duplicate sends a share of packets twice (actions duplicate and netem).
	Duplicate *DuplicateSpec `json:"duplicate,omitempty"`
	// Corrupt flips a random bit in a share of packets (actions corrupt and netem).
	Corrupt *CorruptSpec `json:"corrupt,omitempty"`
	// Bandwidth limits throughput with a token bucket filter (action bandwidth).
	Bandwidth *BandwidthSpec `json:"bandwidth,omitempty"`
	// Rate limits throughput inside netem, without a queue limit (action netem).
	Rate *RateSpec `json:"rate,omitempty"`
}

// DelaySpec adds latency to packets.
type DelaySpec struct {
	// Latency added to each packet: a number and one unit, e.g. "90ms",
	// "1.5s" (units ns, us, ms, s, m, h). Required.
	Latency string `json:"latency"`
	// Correlation of each packet's delay with the previous one's, a
	// percentage from "0" to "100". Default "0".
	Correlation string `json:"correlation,omitempty"`
	// Jitter varies the latency by up to this much either way, e.g. "10ms".
	// Default "0ms".
	Jitter string `json:"jitter,omitempty"`
	// Reorder sends some packets at once, ahead of delayed ones.
	Reorder *ReorderSpec `json:"reorder,omitempty"`
}

// ReorderSpec sends a share of packets without delay, so they overtake
// delayed ones. It needs a non-zero latency.
type ReorderSpec struct {
	// Reorder is the percentage of packets sent at once, from "0" to "100". Required.
	Reorder string `json:"reorder"`
	// Correlation with the previous packet's decision, a percentage from
	// "0" to "100". Default "0".
	Correlation string `json:"correlation,omitempty"`
	// Gap: every gap-th packet is a reorder candidate. 0 or 1 means every
	// packet. Must not be negative.
	Gap int `json:"gap"`
}

// LossSpec drops packets.
type LossSpec struct {
	// Loss is the percentage of packets dropped, from "0" to "100", e.g. "25". Required.
	Loss string `json:"loss"`
	// Correlation with the previous packet's fate, a percentage from "0" to
	// "100". Default "0".
	Correlation string `json:"correlation,omitempty"`
}

// DuplicateSpec sends packets twice.
type DuplicateSpec struct {
	// Duplicate is the percentage of packets sent twice, from "0" to "100". Required.
	Duplicate string `json:"duplicate"`
	// Correlation with the previous packet's fate, a percentage from "0" to
	// "100". Default "0".
	Correlation string `json:"correlation,omitempty"`
}

// CorruptSpec corrupts packets.
type CorruptSpec struct {
	// Corrupt is the percentage of packets with a flipped bit, from "0" to
	// "100". Required.
	Corrupt string `json:"corrupt"`
	// Correlation with the previous packet's fate, a percentage from "0" to
	// "100". Default "0".
	Correlation string `json:"correlation,omitempty"`
}

// BandwidthSpec is a token bucket filter (tc tbf): traffic beyond rate waits
// in a queue of limit bytes and is dropped when the queue is full.
type BandwidthSpec struct {
	// Rate is the sustained throughput: an integer and a unit, e.g. "1mbps",
	// "100kbps", "10mbit". Units: bps, kbps, mbps, gbps, tbps (bytes per
	// second) and bit, kbit, mbit, gbit, tbit (bits per second). Required.
	Rate string `json:"rate"`
	// Limit is the queue size in bytes waiting for tokens. Required, at least 1.
	Limit uint32 `json:"limit"`
	// Buffer is the bucket size in bytes: how much may be sent at once.
	// Required, at least 1.
	Buffer uint32 `json:"buffer"`
	// Peakrate caps the rate at which the bucket empties, in bytes per
	// second. Optional; needs minburst.
	Peakrate *int64 `json:"peakrate,omitempty"`
	// Minburst is the size of the peakrate bucket in bytes, normally the MTU.
	Minburst *uint32 `json:"minburst,omitempty"`
}

// RateSpec limits throughput inside netem.
type RateSpec struct {
	// Rate is the throughput: an integer and a unit, e.g. "10mbps" (units as
	// in bandwidth.rate). Required.
	Rate string `json:"rate"`
}

// ParseRate converts a Chaos Mesh rate ("1mbps", "100kbit") to bytes per
// second, with Chaos Mesh's units: bps, kbps, mbps, gbps and tbps are bytes
// per second in steps of 1024; bit, kbit, mbit, gbit and tbit are bits per
// second in steps of 1000. The number is a whole number; case and spaces
// around it do not matter.
func ParseRate(s string) (bytesPerSecond uint64, err error) {
	v := strings.ToLower(strings.TrimSpace(s))
	units := []struct {
		suffix string
		mul    uint64
		bits   bool
	}{
		// Longest suffixes first: "kbps" also ends in "bps".
		{"tbps", 1 << 40, false}, {"gbps", 1 << 30, false}, {"mbps", 1 << 20, false}, {"kbps", 1 << 10, false},
		{"tbit", 1e12, true}, {"gbit", 1e9, true}, {"mbit", 1e6, true}, {"kbit", 1e3, true},
		{"bps", 1, false}, {"bit", 1, true},
	}
	for _, u := range units {
		num, ok := strings.CutSuffix(v, u.suffix)
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(num), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("rate %q does not start with a whole number", s)
		}
		if n > math.MaxUint64/u.mul {
			return 0, fmt.Errorf("rate %q is too large", s)
		}
		n *= u.mul
		if u.bits {
			n /= 8
		}
		return n, nil
	}
	return 0, fmt.Errorf("rate %q has no unit", s)
}
