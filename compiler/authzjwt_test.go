package compiler

import (
	"reflect"
	"slices"
	"testing"

	"github.com/signalbox/signalbox/compiler/ir"
)

// The request principal forms of Istio's requestPrincipalGenerator (its generator_test cases).
func TestPrincipalMatch(t *testing.T) {
	anyValue := ir.RBACValue{Kind: ir.MatchRegex, Value: ".+"}
	for _, c := range []struct {
		in       string
		iss, sub ir.RBACValue
	}{
		{"*", anyValue, anyValue},
		{"foo/bar", exact("foo"), exact("bar")},
		{"https://issuer.example.com/alice", exact("https://issuer.example.com"), exact("alice")},
		{"foo", exact("foo"), exact("")},
		{"*/bar", anyValue, exact("bar")},
		{"*.example.com/bar", ir.RBACValue{Kind: ir.MatchSuffix, Value: ".example.com"}, exact("bar")},
		{"*bar", anyValue, ir.RBACValue{Kind: ir.MatchSuffix, Value: "bar"}},
		{"foo/*", exact("foo"), anyValue},
		{"foo/ba*", exact("foo"), ir.RBACValue{Kind: ir.MatchPrefix, Value: "ba"}},
		{"fo*", ir.RBACValue{Kind: ir.MatchPrefix, Value: "fo"}, anyValue},
	} {
		iss, sub := principalMatch(c.in)
		if !reflect.DeepEqual(iss, c.iss) || !reflect.DeepEqual(sub, c.sub) {
			t.Errorf("principalMatch(%q) = %+v, %+v; want %+v, %+v", c.in, iss, sub, c.iss, c.sub)
		}
	}
}

// Istio's extractNameInNestedBrackets.
func TestClaimPath(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"[groups]", []string{"groups"}},
		{"[org][team]", []string{"org", "team"}},
		{"[a.b]", []string{"a.b"}},
		{"[a][b][c]", []string{"a", "b", "c"}},
		{"[a[b]]", []string{"a[b]"}},
	} {
		if got := claimPath(c.in); !slices.Equal(got, c.want) {
			t.Errorf("claimPath(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
