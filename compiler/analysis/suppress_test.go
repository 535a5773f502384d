package analysis_test

import (
	"testing"

	"github.com/signalbox/signalbox/compiler/analysis"
	"github.com/signalbox/signalbox/schema"
)

func TestSuppress(t *testing.T) {
	vs := schema.Finding{Code: "SB0005", Kind: "VirtualService", Namespace: "default", Name: "reviews"}
	gw := schema.Finding{Code: "SB0009", Kind: "Gateway", Namespace: "shop", Name: "ingress"}
	uncoded := schema.Finding{Kind: "VirtualService", Namespace: "default", Name: "reviews"}
	for _, c := range []struct {
		spec string
		want []bool // vs, gw, uncoded silenced
	}{
		{"SB0005", []bool{true, false, false}},
		{"SB0005=VirtualService/default/reviews", []bool{true, false, false}},
		{"SB0005=VirtualService/default/ratings", []bool{false, false, false}},
		{"SB0009=Gateway/*/*", []bool{false, true, false}},
		{"SB000*=*/*/*", []bool{true, true, false}},
	} {
		s, err := analysis.ParseSuppression(c.spec)
		if err != nil {
			t.Fatalf("%s: %v", c.spec, err)
		}
		for i, f := range []schema.Finding{vs, gw, uncoded} {
			if got := s.Matches(f); got != c.want[i] {
				t.Errorf("%s matches %+v = %v, want %v", c.spec, f, got, c.want[i])
			}
		}
	}
	for _, bad := range []string{"", "=Gateway/a/b", "SB0005=Gateway", "SB0005=Gateway//x", "SB9999", "SB0005=[/a/b"} {
		if _, err := analysis.ParseSuppression(bad); err == nil {
			t.Errorf("ParseSuppression(%q) accepted", bad)
		}
	}
}
