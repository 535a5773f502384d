package compiler

import (
	"testing"

	"github.com/signalbox/signalbox/compiler/ir"
)

// TestForTCP checks Istio's checkError on TCP: an ALLOW rule with an HTTP-only condition is left
// out whole; a DENY rule loses only that condition (and an emptied side matches anything).
func TestForTCP(t *testing.T) {
	port := ir.RBACCondition{Attribute: ir.RBACDestinationPort, Values: []ir.RBACValue{{Port: 80}}}
	method := ir.RBACCondition{Attribute: ir.RBACHeader, Header: ":method", Values: []ir.RBACValue{{Kind: ir.MatchExact, Value: "GET"}}}
	token := ir.RBACCondition{Attribute: ir.RBACJWT, Values: []ir.RBACValue{{Claims: []ir.RBACClaim{{Issuer: "i", Path: []string{"sub"}}}}}}
	ip := ir.RBACCondition{Attribute: ir.RBACRemoteIP, Values: []ir.RBACValue{{Address: "10.0.0.0", PrefixLen: 8}}}
	policies := []*ir.RBACPolicy{
		{Name: "kept", Permissions: []ir.RBACRule{{Conditions: []ir.RBACCondition{port}}}, Principals: []ir.RBACRule{{Conditions: []ir.RBACCondition{ip}}}},
		{Name: "http", Permissions: []ir.RBACRule{{Conditions: []ir.RBACCondition{method, port}}}, Principals: []ir.RBACRule{{Conditions: []ir.RBACCondition{token, ip}}}},
		{Name: "never", MatchNever: true},
	}
	allow := forTCP(policies, false)
	if len(allow) != 2 || allow[0].Name != "kept" || allow[1].Name != "never" {
		t.Fatalf("ALLOW: got %d policies, want kept and never", len(allow))
	}
	deny := forTCP(policies, true)
	if len(deny) != 3 {
		t.Fatalf("DENY: got %d policies, want 3", len(deny))
	}
	h := deny[1]
	if c := h.Permissions[0].Conditions; len(c) != 1 || c[0].Attribute != ir.RBACDestinationPort {
		t.Errorf("DENY permission: got %+v, want the port alone", c)
	}
	if c := h.Principals[0].Conditions; len(c) != 1 || c[0].Attribute != ir.RBACRemoteIP {
		t.Errorf("DENY principal: got %+v, want the address alone", c)
	}
	if len(policies[1].Permissions[0].Conditions) != 2 {
		t.Errorf("the HTTP policy was changed")
	}
}
