package xds

import (
	"fmt"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacnet "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/rbac/v3"
	"github.com/envoyproxy/go-control-plane/pkg/wellknown"

	"github.com/signalbox/signalbox/compiler/ir"
)

// rbacTCPStatPrefix is Istio's RBACTCPFilterStatPrefix.
const rbacTCPStatPrefix = "tcp."

// networkRBACFilters builds the network RBAC filters of a TCP listener's authorization, DENY
// before ALLOW, to go before the TCP proxy as Istio's BuildTCP filters do. The compiler has left
// out what a connection lacks (headers, paths, token claims); finding one here is a compiler bug,
// refused rather than sent to a proxy that would have to reject the listener.
func networkRBACFilters(a *ir.Authorization) ([]*listener.Filter, error) {
	if a != nil {
		for _, set := range []*ir.RBAC{a.Deny, a.Allow} {
			if err := connectionOnly(set); err != nil {
				return nil, err
			}
		}
	}
	sets, err := rbacSets(a)
	if err != nil {
		return nil, err
	}
	var out []*listener.Filter
	for _, rules := range sets {
		cfg, err := pack(&rbacnet.RBAC{StatPrefix: rbacTCPStatPrefix, Rules: rules})
		if err != nil {
			return nil, err
		}
		out = append(out, &listener.Filter{Name: wellknown.RoleBasedAccessControl,
			ConfigType: &listener.Filter_TypedConfig{TypedConfig: cfg}})
	}
	return out, nil
}

func connectionOnly(set *ir.RBAC) error {
	if set == nil {
		return nil
	}
	for _, p := range set.Policies {
		for _, r := range append(append([]ir.RBACRule{}, p.Permissions...), p.Principals...) {
			for _, c := range r.Conditions {
				switch c.Attribute {
				case ir.RBACHeader, ir.RBACPath, ir.RBACJWT:
					return fmt.Errorf("RBAC policy %s: %s is not a connection's attribute", p.Name, c.Attribute)
				}
			}
		}
	}
	return nil
}
