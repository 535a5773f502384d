package compiler

import (
	"reflect"
	"testing"

	"github.com/signalbox/signalbox/compiler/ir"
)

func vhost(name string, domains ...string) *ir.VirtualHost {
	return &ir.VirtualHost{Name: name, Domains: append([]string{name}, domains...)}
}

// Virtual hosts that share a host part share a route configuration: the scope key carries no
// port, so "reviews" must find both services' ports in the one table it selects.
func TestRouteScopesMergeHostsSharingAKey(t *testing.T) {
	l := &ir.Listener{RouteName: "outbound", VirtualHosts: []*ir.VirtualHost{
		vhost("details.default.svc.cluster.local:9080", "details:9080", "details"),
		vhost("reviews.a.svc.cluster.local:9080", "reviews:9080", "reviews"),
		vhost("reviews.b.svc.cluster.local:8080", "reviews:8080"),
		vhost("api.example.com"),
	}}
	type got struct {
		Route string
		Keys  []string
		Hosts []string
	}
	var gs []got
	for _, s := range routeScopes(l) {
		g := got{Route: s.routeName, Keys: s.keys}
		for _, vh := range s.vhosts {
			g.Hosts = append(g.Hosts, vh.Name)
		}
		gs = append(gs, g)
	}
	want := []got{
		{"outbound|api.example.com", []string{"api.example.com"}, []string{"api.example.com"}},
		{"outbound|details.default.svc.cluster.local", []string{"details", "details.default.svc.cluster.local"},
			[]string{"details.default.svc.cluster.local:9080"}},
		{"outbound|reviews.a.svc.cluster.local", []string{"reviews", "reviews.a.svc.cluster.local", "reviews.b.svc.cluster.local"},
			[]string{"reviews.a.svc.cluster.local:9080", "reviews.b.svc.cluster.local:8080"}},
	}
	if !reflect.DeepEqual(gs, want) {
		t.Errorf("scopes:\n got %+v\nwant %+v", gs, want)
	}
}

// A wildcard domain (or an IPv6 literal) cannot be a scope key: such a listener keeps one
// route configuration.
func TestScopableRefusesWildcardsAndIPv6(t *testing.T) {
	for _, c := range []struct {
		domain string
		want   bool
	}{{"reviews:9080", true}, {"10.0.0.1:80", true}, {"*.example.com", false}, {"*", false}, {"[::1]:80", false}} {
		l := &ir.Listener{VirtualHosts: []*ir.VirtualHost{vhost("a:80"), vhost(c.domain)}}
		if got := scopable(l); got != c.want {
			t.Errorf("scopable with %q = %v, want %v", c.domain, got, c.want)
		}
	}
}
