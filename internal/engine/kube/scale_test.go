package kube

import (
	"testing"
)

func TestParseScaleHold(t *testing.T) {
	tests := []struct {
		name    string
		args    map[string]string
		want    scaleHold
		wantErr bool
	}{
		{"full", map[string]string{scaleArgBefore: "1", scaleArgSet: "2", scaleArgBase: "3", scaleArgSeq: "4", scaleArgReleased: "true"},
			scaleHold{id: "x", seq: 4, before: 1, set: 2, hasSet: true, base: 3, released: true}, false},
		{"written before holds stacked: base is the count replaced", map[string]string{scaleArgBefore: "5"},
			scaleHold{id: "x", before: 5, base: 5}, false},
		{"no count", map[string]string{scaleArgSet: "2"}, scaleHold{}, true},
		{"negative count", map[string]string{scaleArgBefore: "-1"}, scaleHold{}, true},
		{"bad base", map[string]string{scaleArgBefore: "1", scaleArgBase: "many"}, scaleHold{}, true},
		{"bad seq", map[string]string{scaleArgBefore: "1", scaleArgSeq: "first"}, scaleHold{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseScaleHold("x", tt.args)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestScaleHoldAbove(t *testing.T) {
	tests := []struct {
		h, o scaleHold
		want bool
	}{
		{scaleHold{id: "a", seq: 2}, scaleHold{id: "b", seq: 1}, true},
		{scaleHold{id: "b", seq: 1}, scaleHold{id: "a", seq: 2}, false},
		// Holds applied at the same time get the same seq: the id decides.
		{scaleHold{id: "b", seq: 1}, scaleHold{id: "a", seq: 1}, true},
		{scaleHold{id: "a", seq: 1}, scaleHold{id: "a", seq: 1}, false},
	}
	for _, tt := range tests {
		if got := tt.h.above(tt.o); got != tt.want {
			t.Errorf("%+v above %+v = %v, want %v", tt.h, tt.o, got, tt.want)
		}
	}
}
