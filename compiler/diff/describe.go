package diff

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
)

// describeMatch renders a route match the way a reader of the policy thinks of it:
// "prefix /api, header x-canary exact true".
func describeMatch(m *route.RouteMatch) string {
	if m == nil {
		return "any request"
	}
	var parts []string
	switch p := m.PathSpecifier.(type) {
	case *route.RouteMatch_Prefix:
		if p.Prefix != "/" && p.Prefix != "" {
			parts = append(parts, "prefix "+p.Prefix)
		}
	case *route.RouteMatch_Path:
		parts = append(parts, "path "+p.Path)
	case *route.RouteMatch_SafeRegex:
		parts = append(parts, "path regex "+p.SafeRegex.GetRegex())
	case *route.RouteMatch_PathSeparatedPrefix:
		parts = append(parts, "path prefix "+p.PathSeparatedPrefix)
	}
	if cs := m.GetCaseSensitive(); cs != nil && !cs.Value {
		parts = append(parts, "ignoring case")
	}
	for _, h := range m.Headers {
		parts = append(parts, "header "+h.Name+" "+describeHeader(h))
	}
	for _, q := range m.QueryParameters {
		s := "query " + q.Name + " "
		if q.GetPresentMatch() {
			s += "present"
		} else {
			s += describeString(q.GetStringMatch())
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "any request"
	}
	return strings.Join(parts, ", ")
}

func describeHeader(h *route.HeaderMatcher) string {
	var s string
	switch {
	case h.GetStringMatch() != nil:
		s = describeString(h.GetStringMatch())
	case h.GetPresentMatch():
		s = "present"
	case h.GetExactMatch() != "":
		s = "exact " + strconv.Quote(h.GetExactMatch())
	case h.GetPrefixMatch() != "":
		s = "prefix " + strconv.Quote(h.GetPrefixMatch())
	case h.GetSuffixMatch() != "":
		s = "suffix " + strconv.Quote(h.GetSuffixMatch())
	case h.GetSafeRegexMatch() != nil:
		s = "regex " + strconv.Quote(h.GetSafeRegexMatch().GetRegex())
	default:
		s = "present"
	}
	if h.InvertMatch {
		s = "not " + s
	}
	return s
}

func describeString(m *matcher.StringMatcher) string {
	switch p := m.GetMatchPattern().(type) {
	case *matcher.StringMatcher_Exact:
		return "exact " + strconv.Quote(p.Exact)
	case *matcher.StringMatcher_Prefix:
		return "prefix " + strconv.Quote(p.Prefix)
	case *matcher.StringMatcher_Suffix:
		return "suffix " + strconv.Quote(p.Suffix)
	case *matcher.StringMatcher_Contains:
		return "contains " + strconv.Quote(p.Contains)
	case *matcher.StringMatcher_SafeRegex:
		return "regex " + strconv.Quote(p.SafeRegex.GetRegex())
	}
	return "any"
}

// describeDests renders a traffic split as shares of 100: "reviews.default:9080/v1 90%, ...".
func describeDests(ds []dest) string {
	if len(ds) == 0 {
		return "no destination"
	}
	var parts []string
	for _, d := range ds {
		parts = append(parts, clusterLabel(d.cluster)+" "+percent(d.weight, ds))
	}
	return strings.Join(parts, ", ")
}

// percent is a destination's share of its route's traffic.
func percent(w uint32, ds []dest) string {
	var total uint64
	for _, d := range ds {
		total += uint64(d.weight)
	}
	if total == 0 {
		return "0%"
	}
	p := float64(w) * 100 / float64(total)
	if p == float64(int64(p)) {
		return strconv.FormatInt(int64(p), 10) + "%"
	}
	return strconv.FormatFloat(p, 'f', 1, 64) + "%"
}

// clusterLabel shortens Istio's cluster name "outbound|9080|v1|reviews.default.svc.cluster.local"
// to "reviews.default:9080/v1"; other names are kept.
func clusterLabel(name string) string {
	parts := strings.Split(name, "|")
	if len(parts) != 4 || parts[0] != "outbound" {
		return name
	}
	s := strings.TrimSuffix(parts[3], ".svc.cluster.local") + ":" + parts[1]
	if parts[2] != "" {
		s += "/" + parts[2]
	}
	return s
}

// describeTimeout renders a route's timeout; Envoy's default is 15 s, 0 means none. Proxyless
// gRPC clients read it from max_stream_duration, so that counts as the timeout too.
func describeTimeout(a *route.RouteAction) string {
	if a == nil {
		return "default (15s)"
	}
	d := a.Timeout
	if d == nil {
		if msd := a.GetMaxStreamDuration(); msd != nil {
			d = msd.GetMaxStreamDuration()
			if d == nil {
				d = msd.GetGrpcTimeoutHeaderMax()
			}
		}
	}
	switch {
	case d == nil:
		return "default (15s)"
	case d.AsDuration() == 0:
		return "none"
	}
	return duration(d)
}

func describeRetries(a *route.RouteAction) string {
	p := a.GetRetryPolicy()
	if p == nil {
		return "none"
	}
	s := "attempts " + strconv.FormatUint(uint64(p.GetNumRetries().GetValue()), 10)
	if p.NumRetries == nil {
		s = "attempts 1"
	}
	if p.PerTryTimeout != nil {
		s += ", per try " + duration(p.PerTryTimeout)
	}
	if p.RetryOn != "" {
		s += ", on " + p.RetryOn
	}
	return s
}

func duration(d *durationpb.Duration) string {
	return d.AsDuration().Round(time.Millisecond).String()
}

// differingFields names the top-level fields of two messages of one type that differ, in
// field order, so that a change the diff has no words for is still named precisely. Fields
// named in skip are left out (the caller describes them itself).
func differingFields(a, b proto.Message, skip ...string) []string {
	ra, rb := a.ProtoReflect(), b.ProtoReflect()
	var out []string
	fields := ra.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if slices.Contains(skip, string(fd.Name())) || fieldEqual(ra, rb, fd) {
			continue
		}
		if fd.IsMap() && fd.MapKey().Kind() == protoreflect.StringKind {
			out = append(out, differingKeys(string(fd.Name()), ra.Get(fd).Map(), rb.Get(fd).Map())...)
			continue
		}
		out = append(out, string(fd.Name()))
	}
	return out
}

// differingKeys names the entries of two string-keyed maps that differ:
// "typed_per_filter_config[envoy.filters.http.fault]".
func differingKeys(field string, a, b protoreflect.Map) []string {
	keys := map[string]bool{}
	collect := func(m protoreflect.Map, other protoreflect.Map) {
		m.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
			ov := other.Get(k)
			if !other.Has(k) || !valueEqual(v, ov) {
				keys[k.String()] = true
			}
			return true
		})
	}
	collect(a, b)
	collect(b, a)
	var out []string
	for _, k := range sortedKeys(keys) {
		out = append(out, field+"["+k+"]")
	}
	return out
}

func valueEqual(a, b protoreflect.Value) bool {
	if am, ok := a.Interface().(protoreflect.Message); ok {
		bm, ok := b.Interface().(protoreflect.Message)
		return ok && proto.Equal(am.Interface(), bm.Interface())
	}
	return a.Equal(b)
}

func fieldEqual(a, b protoreflect.Message, fd protoreflect.FieldDescriptor) bool {
	if a.Has(fd) != b.Has(fd) {
		return false
	}
	if !a.Has(fd) {
		return true
	}
	av, bv := a.Get(fd), b.Get(fd)
	switch {
	case fd.IsList():
		la, lb := av.List(), bv.List()
		if la.Len() != lb.Len() {
			return false
		}
		for i := 0; i < la.Len(); i++ {
			if !valueEqual(la.Get(i), lb.Get(i)) {
				return false
			}
		}
		return true
	case fd.IsMap():
		ma, mb := av.Map(), bv.Map()
		if ma.Len() != mb.Len() {
			return false
		}
		equal := true
		ma.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
			equal = mb.Has(k) && valueEqual(v, mb.Get(k))
			return equal
		})
		return equal
	}
	return valueEqual(av, bv)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func fmtList(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}
