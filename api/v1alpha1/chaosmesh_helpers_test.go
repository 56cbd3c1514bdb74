package v1alpha1

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestChaosParseRate(t *testing.T) {
	for in, want := range map[string]uint64{
		"1bps": 1, "100kbps": 100 << 10, "1mbps": 1 << 20, "10MBPS": 10 << 20, "1gbps": 1 << 30, "1tbps": 1 << 40,
		"8bit": 1, "100kbit": 12500, "10mbit": 1250000, " 1 gbit ": 125000000, "1tbit": 125000000000, "0mbps": 0,
	} {
		got, err := ParseRate(in)
		if err != nil || got != want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "mbps", "1.5mbps", "-1mbps", "10", "10mb", "1 mbs", "99999999999999tbps"} {
		if got, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) = %d, want an error", in, got)
		}
	}
}

func TestChaosParseMemorySize(t *testing.T) {
	for in, want := range map[string]int64{
		"4096": 4096, "256MB": 256e6, "10GB": 10e9, "1GiB": 1 << 30, "512MiB": 512 << 20, "1.5KB": 1500,
		"1 GB": 1e9, "2k": 2000, "3M": 3e6, "1TiB": 1 << 40, "100B": 100,
	} {
		got, pct, err := ParseMemorySize(in)
		if err != nil || got != want || pct != 0 {
			t.Errorf("ParseMemorySize(%q) = %d, %d, %v; want %d bytes", in, got, pct, err, want)
		}
	}
	if b, pct, err := ParseMemorySize("50%"); err != nil || b != 0 || pct != 50 {
		t.Errorf(`ParseMemorySize("50%%") = %d, %d, %v`, b, pct, err)
	}
	for _, in := range []string{"", "0", "0%", "101%", "abc", "10XB", "10iB", "-1GB", "1e3MB", "%"} {
		if b, pct, err := ParseMemorySize(in); err == nil {
			t.Errorf("ParseMemorySize(%q) = %d, %d, want an error", in, b, pct)
		}
	}
}

func TestChaosEmbedChaosHelpers(t *testing.T) {
	var nilEmbed *EmbedChaos
	if k, s := nilEmbed.Chaos(); k != "" || s != nil || !nilEmbed.IsEmpty() {
		t.Errorf("nil EmbedChaos: Chaos() = %q, %v", k, s)
	}
	pod := &PodChaosSpec{Action: PodKill}
	e := &EmbedChaos{PodChaos: pod, JVMChaos: map[string]any{"action": "gc"}}
	if k, s := e.Chaos(); k != "PodChaos" || s != pod {
		t.Errorf("Chaos() = %q, %v", k, s)
	}
	set := e.SetChaos()
	if len(set) != 2 || set[1].Kind != "JVMChaos" || set[1].Field != "jvmChaos" || set[1].Supported {
		t.Errorf("SetChaos() = %+v", set)
	}
	if s, ok := e.Get("NetworkChaos"); ok || s != nil {
		t.Errorf("Get(NetworkChaos) = %v, %v: unset specs must be a plain nil", s, ok)
	}
	if f, ok := EmbedChaosField("PhysicalMachineChaos"); ok || f != "physicalmachineChaos" {
		t.Errorf("EmbedChaosField(PhysicalMachineChaos) = %q, %v", f, ok)
	}

	// Every field of EmbedChaos is listed, under its JSON name, exactly once.
	fields := map[string]bool{}
	for _, f := range reflect.VisibleFields(reflect.TypeOf(EmbedChaos{})) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		fields[name] = true
	}
	kinds := append(SupportedEmbedKinds(), UnsupportedEmbedKinds()...)
	if len(kinds) != len(fields) {
		t.Errorf("EmbedChaos has %d fields, the kind table %d", len(fields), len(kinds))
	}
	for _, k := range kinds {
		f, _ := EmbedChaosField(k)
		if f == "" {
			for _, en := range (*EmbedChaos)(nil).entries() {
				if en.Kind == k {
					f = en.Field
				}
			}
		}
		if !fields[f] {
			t.Errorf("kind %s maps to %q, not a field of EmbedChaos", k, f)
		}
	}

	// Template and schedule types name exactly the supported kinds (plus
	// their own orchestration types).
	for _, k := range SupportedEmbedKinds() {
		if !TemplateType(k).IsChaos() {
			t.Errorf("TemplateType(%s).IsChaos() = false", k)
		}
	}
	for _, typ := range []TemplateType{TemplateTypeSerial, TemplateTypeParallel, TemplateTypeSuspend,
		TemplateTypeTask, TemplateTypeSchedule, TemplateTypeStatusCheck, "AWSChaos"} {
		if typ.IsChaos() {
			t.Errorf("TemplateType(%s).IsChaos() = true", typ)
		}
	}
	if !slices.Contains(SupportedEmbedKinds(), string(ScheduleTypeModelChaos)) {
		t.Error("ModelChaos cannot be scheduled")
	}
}

// TestChaosInlineJSON pins the wire shape the decoder and Chaos Mesh rely
// on: selectors, actions and embedded specs are inlined, not nested.
func TestChaosInlineJSON(t *testing.T) {
	spec := ScheduleSpec{ChaosOnlyScheduleSpec: ChaosOnlyScheduleSpec{Schedule: "@every 1m", Type: ScheduleTypeHTTPChaos,
		EmbedChaos: EmbedChaos{HTTPChaos: &HTTPChaosSpec{
			PodSelector:      PodSelector{Mode: ModeAll, Selector: PodSelectorSpec{Namespaces: []string{"default"}}},
			Target:           HTTPTargetRequest,
			HTTPChaosActions: HTTPChaosActions{Delay: new(string)},
			Port:             80,
		}}}}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schedule":"@every 1m","type":"HTTPChaos","httpChaos":{"selector":{"namespaces":["default"]},"mode":"all","target":"Request","delay":"","port":80}}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

// Every Chaos Mesh fault spec selects pods and has a duration, so engines
// can treat them alike.
var (
	_ Selectable = (*PodChaosSpec)(nil)
	_ Selectable = (*NetworkChaosSpec)(nil)
	_ Selectable = (*StressChaosSpec)(nil)
	_ Selectable = (*HTTPChaosSpec)(nil)
	_ Selectable = (*IOChaosSpec)(nil)
	_ Selectable = (*DNSChaosSpec)(nil)
	_ Selectable = (*TimeChaosSpec)(nil)

	_ interface{ GetDuration() *string } = (*PodChaosSpec)(nil)
	_ interface{ GetDuration() *string } = (*NetworkChaosSpec)(nil)
	_ interface{ GetDuration() *string } = (*StressChaosSpec)(nil)
	_ interface{ GetDuration() *string } = (*HTTPChaosSpec)(nil)
	_ interface{ GetDuration() *string } = (*IOChaosSpec)(nil)
	_ interface{ GetDuration() *string } = (*DNSChaosSpec)(nil)
	_ interface{ GetDuration() *string } = (*TimeChaosSpec)(nil)
)

func TestNewChaosSpecCoversEveryFaultKind(t *testing.T) {
	faults := 0
	for _, k := range Kinds() {
		_, isChaos := k.New().(ChaosObject)
		spec, ok := NewChaosSpec(k.Kind)
		if ok != isChaos || (ok && spec == nil) {
			t.Errorf("%s: NewChaosSpec ok=%v, kind is a fault: %v", k.Kind, ok, isChaos)
		}
		if isChaos {
			faults++
		}
	}
	if faults != 10 {
		t.Fatalf("%d fault kinds, want 10 (7 Chaos Mesh + NodeChaos, ScaleChaos, ModelChaos)", faults)
	}
}
