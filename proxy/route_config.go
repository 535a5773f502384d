package proxy

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// routeConfig is a validated RouteConfiguration. It names clusters but does not point at
// them: a routeTable links it to the clusters of the moment.
type routeConfig struct {
	name    string
	domains domainIndex
	vhosts  []virtualHost
	// clusters are the names the routes send to, sorted, for warming.
	clusters []string
	raw      []byte
}

type virtualHost struct {
	name   string
	routes []route
}

type pathKind uint8

const (
	pathPrefix pathKind = iota
	pathExact
	pathRegex
)

type route struct {
	name      string
	kind      pathKind
	path      string // lower-cased when !caseSensitive
	re        *regexp.Regexp
	foldCase  bool
	headers   []headerMatcher
	query     []queryMatcher
	targets   []target
	weightSum uint64
	timeout   time.Duration // 0: none
}

// target is one cluster a route sends to; weight is 1 for a plain cluster action.
type target struct {
	cluster string
	weight  uint64
}

func decodeRouteConfiguration(rc *routev3.RouteConfiguration) (*routeConfig, error) {
	if err := validateAll("", rc); err != nil {
		return nil, err
	}
	if err := onlyFields("", rc, "name", "virtual_hosts", "validate_clusters"); err != nil {
		return nil, err
	}
	cfg := &routeConfig{name: rc.GetName()}
	var b domainIndexBuilder
	for i, vh := range rc.GetVirtualHosts() {
		p := fieldPath("virtual_hosts").index(i)
		if err := onlyFields(p, vh, "name", "domains", "routes"); err != nil {
			return nil, err
		}
		for j, d := range vh.GetDomains() {
			if err := b.add(d, i, vh.GetName()); err != nil {
				return nil, p.field("domains").index(j).errorf("%v", err)
			}
		}
		v := virtualHost{name: vh.GetName(), routes: make([]route, 0, len(vh.GetRoutes()))}
		for j, r := range vh.GetRoutes() {
			rt, err := decodeRoute(p.field("routes").index(j), r)
			if err != nil {
				return nil, err
			}
			v.routes = append(v.routes, rt)
		}
		cfg.vhosts = append(cfg.vhosts, v)
	}
	cfg.domains = b.build()
	for _, v := range cfg.vhosts {
		for _, r := range v.routes {
			for _, t := range r.targets {
				cfg.clusters = append(cfg.clusters, t.cluster)
			}
		}
	}
	slices.Sort(cfg.clusters)
	cfg.clusters = slices.Compact(cfg.clusters)
	raw, err := deterministic.Marshal(rc)
	if err != nil {
		return nil, err
	}
	cfg.raw = raw
	return cfg, nil
}

func decodeRoute(p fieldPath, r *routev3.Route) (route, error) {
	if err := onlyFields(p, r, "name", "match", "route"); err != nil {
		return route{}, err
	}
	rt := route{name: r.GetName()}
	m := r.GetMatch()
	mp := p.field("match")
	if m == nil {
		return route{}, mp.errorf("required")
	}
	if err := onlyFields(mp, m, "prefix", "path", "safe_regex", "headers", "query_parameters", "case_sensitive"); err != nil {
		return route{}, err
	}
	rt.foldCase = m.GetCaseSensitive() != nil && !m.GetCaseSensitive().GetValue()
	switch ps := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		rt.kind, rt.path = pathPrefix, ps.Prefix
	case *routev3.RouteMatch_Path:
		rt.kind, rt.path = pathExact, ps.Path
	case *routev3.RouteMatch_SafeRegex:
		re, err := decodeRegex(mp.field("safe_regex"), ps.SafeRegex)
		if err != nil {
			return route{}, err
		}
		rt.kind, rt.re = pathRegex, re
	default:
		return route{}, mp.errorf("one of prefix, path, safe_regex is required")
	}
	for i, h := range m.GetHeaders() {
		hm, err := decodeHeaderMatcher(mp.field("headers").index(i), h)
		if err != nil {
			return route{}, err
		}
		rt.headers = append(rt.headers, hm)
	}
	for i, q := range m.GetQueryParameters() {
		qm, err := decodeQueryMatcher(mp.field("query_parameters").index(i), q)
		if err != nil {
			return route{}, err
		}
		rt.query = append(rt.query, qm)
	}
	ap := p.field("route")
	a := r.GetRoute()
	if a == nil {
		return route{}, ap.errorf("required: only route actions are supported")
	}
	if err := onlyFields(ap, a, "cluster", "weighted_clusters", "timeout"); err != nil {
		return route{}, err
	}
	// Unlike Envoy, an unset timeout means none rather than 15 s: the compiler sets it when
	// a policy asks for one.
	if to := a.GetTimeout(); to != nil {
		rt.timeout = to.AsDuration()
		if rt.timeout < 0 {
			return route{}, ap.field("timeout").errorf("must not be negative")
		}
	}
	switch cs := a.GetClusterSpecifier().(type) {
	case *routev3.RouteAction_Cluster:
		rt.targets = []target{{cluster: cs.Cluster, weight: 1}}
	case *routev3.RouteAction_WeightedClusters:
		wp := ap.field("weighted_clusters")
		wc := cs.WeightedClusters
		if err := onlyFields(wp, wc, "clusters", "total_weight"); err != nil {
			return route{}, err
		}
		var sum uint64
		for i, c := range wc.GetClusters() {
			cp := wp.field("clusters").index(i)
			if err := onlyFields(cp, c, "name", "weight"); err != nil {
				return route{}, err
			}
			if c.GetName() == "" {
				return route{}, cp.field("name").errorf("required")
			}
			w := uint64(c.GetWeight().GetValue())
			sum += w
			if w > 0 { // a zero weight is never picked
				rt.targets = append(rt.targets, target{cluster: c.GetName(), weight: w})
			}
		}
		if sum == 0 {
			return route{}, wp.field("clusters").errorf("the sum of weights must be greater than zero")
		}
		if tw := wc.GetTotalWeight(); tw != nil && uint64(tw.GetValue()) != sum {
			return route{}, wp.field("total_weight").errorf("%d is not the sum of the weights (%d)", tw.GetValue(), sum)
		}
	default:
		return route{}, ap.errorf("one of cluster, weighted_clusters is required")
	}
	for _, t := range rt.targets {
		rt.weightSum += t.weight
	}
	if rt.foldCase && rt.kind != pathRegex {
		rt.path = strings.ToLower(rt.path)
	}
	return rt, nil
}

// matches tests a request whose path (query and fragment removed) is path.
func (rt *route) matches(r *http.Request, path string) bool {
	switch rt.kind {
	case pathPrefix:
		if rt.foldCase {
			if len(path) < len(rt.path) || !strings.EqualFold(path[:len(rt.path)], rt.path) {
				return false
			}
		} else if !strings.HasPrefix(path, rt.path) {
			return false
		}
	case pathExact:
		if rt.foldCase {
			if !strings.EqualFold(path, rt.path) {
				return false
			}
		} else if path != rt.path {
			return false
		}
	case pathRegex:
		if !rt.re.MatchString(path) {
			return false
		}
	}
	for i := range rt.headers {
		if !rt.headers[i].match(r) {
			return false
		}
	}
	for i := range rt.query {
		if !rt.query[i].match(r.URL.RawQuery) {
			return false
		}
	}
	return true
}

// requestPath is the path Envoy matches routes against: the raw :path without query or
// fragment, so "%2F" stays as sent.
func requestPath(r *http.Request) string {
	u := r.RequestURI
	if len(u) > 0 && u[0] == '/' {
		if i := strings.IndexAny(u, "?#"); i >= 0 {
			return u[:i]
		}
		return u
	}
	// Absolute-form ("http://host/path") or "*": fall back to the parsed URL.
	return r.URL.EscapedPath()
}
