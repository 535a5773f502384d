package proxy

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// Scoped routes (Envoy's SRDS): a listener names a set of scopes instead of one route
// configuration; each scope maps a key to a RouteConfiguration, and each request is routed by
// the configuration whose key the scope key builder extracts from it. signalbox splits a big
// route table this way, one configuration per service, so a change to one service's routes
// sends only that service's configuration.

// scopeKeyBuilder extracts a request's scope key: one fragment, taken from a header's value
// split on separator (the whole value when separator is empty).
type scopeKeyBuilder struct {
	header    string // canonical form; ":authority" and "host" both read the request's Host
	separator string
	index     int
}

// foldsCase reports whether the key is the host part of :authority. A host name is the same
// name whatever the case of its letters (RFC 4343), and the virtual host within a scope is
// found ignoring case, so that scope is too: "Reviews:9080" is routed by the scope "reviews".
// Envoy's scope key builder compares the key as sent; signalbox's scope keys are host names,
// and with one scope per host that would turn the case of a Host header into a 404 where a
// single route table (Istio's sidecar) routes it.
func (b *scopeKeyBuilder) foldsCase() bool { return b.header == "" }

// key returns the request's scope key, and false when the request has none (Envoy then
// routes nowhere: 404).
func (b *scopeKeyBuilder) key(r *http.Request) (string, bool) {
	var v string
	if b.header == "" {
		v = r.Host
	} else {
		v = strings.Join(r.Header.Values(b.header), ",")
	}
	if v == "" {
		return "", false
	}
	if b.separator == "" {
		return v, b.index == 0
	}
	for i := 0; ; i++ {
		part, rest, found := strings.Cut(v, b.separator)
		if i == b.index {
			return part, true
		}
		if !found {
			return "", false
		}
		v = rest
	}
}

// decodeScopedRoutes accepts scoped routes whose scopes and route configurations come over
// ADS and whose key is one fragment extracted by index from a header.
func decodeScopedRoutes(p fieldPath, sr *hcmv3.ScopedRoutes) (string, *scopeKeyBuilder, error) {
	if err := onlyFields(p, sr, "name", "scope_key_builder", "rds_config_source", "scoped_rds"); err != nil {
		return "", nil, err
	}
	if sr.GetName() == "" {
		return "", nil, p.field("name").errorf("required")
	}
	if err := adsConfigSource(p.field("rds_config_source"), sr.GetRdsConfigSource()); err != nil {
		return "", nil, err
	}
	srds := sr.GetScopedRds()
	if srds == nil {
		return "", nil, p.field("scoped_rds").errorf("required: scopes must come from SRDS")
	}
	if err := onlyFields(p.field("scoped_rds"), srds, "scoped_rds_config_source"); err != nil {
		return "", nil, err
	}
	if err := adsConfigSource(p.field("scoped_rds").field("scoped_rds_config_source"), srds.GetScopedRdsConfigSource()); err != nil {
		return "", nil, err
	}
	kp := p.field("scope_key_builder").field("fragments")
	frags := sr.GetScopeKeyBuilder().GetFragments()
	if len(frags) != 1 {
		return "", nil, kp.errorf("exactly one fragment is supported, got %d", len(frags))
	}
	hp := kp.index(0).field("header_value_extractor")
	h := frags[0].GetHeaderValueExtractor()
	if h == nil {
		return "", nil, hp.errorf("required")
	}
	if err := onlyFields(hp, h, "name", "element_separator", "index"); err != nil {
		return "", nil, err
	}
	b := &scopeKeyBuilder{separator: h.GetElementSeparator(), index: int(h.GetIndex())}
	switch name := strings.ToLower(h.GetName()); name {
	case ":authority", "host":
	case "":
		return "", nil, hp.field("name").errorf("required")
	default:
		if strings.HasPrefix(name, ":") {
			return "", nil, hp.field("name").errorf("pseudo-header %q is not supported: only :authority", name)
		}
		b.header = http.CanonicalHeaderKey(name)
	}
	return sr.GetName(), b, nil
}

// scopeConfig is a validated ScopedRouteConfiguration.
type scopeConfig struct {
	name      string
	key       string
	routeName string
}

func decodeScope(s *routev3.ScopedRouteConfiguration) (*scopeConfig, error) {
	if err := validateAll("", s); err != nil {
		return nil, err
	}
	if err := onlyFields("", s, "name", "route_configuration_name", "key", "on_demand"); err != nil {
		return nil, err
	}
	frags := s.GetKey().GetFragments()
	if len(frags) != 1 {
		return nil, fieldPath("key").field("fragments").errorf("exactly one fragment is supported, got %d", len(frags))
	}
	return &scopeConfig{name: s.GetName(), key: frags[0].GetStringKey(), routeName: s.GetRouteConfigurationName()}, nil
}

// applyScopes takes a state-of-the-world response of scopes: scopes it does not carry are
// gone. Two scopes with one key refuse the response, as Envoy does.
func (p *Proxy) applyScopes(res []*anypb.Any) error {
	cfgs, err := decodeResources(resourcev3.ScopedRouteType, res,
		func() *routev3.ScopedRouteConfiguration { return &routev3.ScopedRouteConfiguration{} },
		(*routev3.ScopedRouteConfiguration).GetName, decodeScope)
	if err != nil {
		return err
	}
	byKey := make(map[string]string, len(cfgs))
	for name, c := range cfgs {
		if other, dup := byKey[c.key]; dup {
			a, b := min(name, other), max(name, other)
			return fmt.Errorf("scoped route configurations %q and %q have the same key %q", a, b, c.key)
		}
		byKey[c.key] = name
	}
	p.state.scopes = cfgs
	p.state.routes = keepOnly(p.state.routes, p.rdsNames())
	p.relinkTables()
	return nil
}

// scoped reports whether an accepted listener takes its routes from scopes.
func (p *Proxy) scoped() bool {
	for _, l := range p.state.listeners {
		if l.scoped != nil || (l.sni != nil && l.sni.anyScoped()) {
			return true
		}
	}
	return false
}

// scope returns the table of the scope keyed k, or nil. A key that is a host name and matches
// no scope as sent matches the scope whose key is the same name in other case (foldsCase).
func (t *routeTable) scope(k string) *routeTable {
	if st := t.scopes[k]; st != nil || !t.keyOf.foldsCase() {
		return st
	}
	lk := lowerASCII(k)
	if st := t.scopes[lk]; st != nil {
		return st
	}
	return t.folded[lk]
}

// foldScopeKeys indexes by their lower-case form the scopes whose keys have upper-case
// letters and no scope under that form; of several keys with one form, the first in byte order.
// It returns nil when no key has an upper-case letter, as the compiler's never have.
func foldScopeKeys(scopes map[string]*routeTable) map[string]*routeTable {
	var folded map[string]*routeTable
	for _, k := range slices.Sorted(maps.Keys(scopes)) {
		lk := lowerASCII(k)
		if lk == k || scopes[lk] != nil {
			continue
		}
		if folded == nil {
			folded = map[string]*routeTable{}
		}
		if _, taken := folded[lk]; !taken {
			folded[lk] = scopes[k]
		}
	}
	return folded
}
