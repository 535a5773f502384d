package compiler

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/signalbox/signalbox/schema"
)

// effectiveRules lists the http rules of a VirtualService with every delegating rule replaced
// by the delegate's rules merged under it, as Istio merges them: a delegate rule keeps only
// the match blocks that fit inside one of the root's (narrowed by the root's conditions) and
// inherits what it leaves unset. Delegation is one level deep, as in Istio.
func (b *builder) effectiveRules(d *schema.Document) []rule {
	vs := d.Spec.(*schema.VirtualService)
	var out []rule
	for i, in := range vs.HTTP {
		path := fmt.Sprintf("spec.http[%d]", i)
		def := d.Namespace + "/" + d.Name + "." + strconv.Itoa(i)
		if in.Delegate == nil {
			out = append(out, rule{doc: d, path: path, http: in, name: def})
			continue
		}
		del := b.delegateDoc(d, path+".delegate", in.Delegate)
		if del == nil {
			continue
		}
		in.Match = withFullGatewayNames(d.Namespace, in.Match)
		for j, sub := range del.Spec.(*schema.VirtualService).HTTP {
			subPath := fmt.Sprintf("spec.http[%d]", j)
			if sub.Delegate != nil {
				b.errorf(del, subPath+".delegate", "a delegate VirtualService cannot delegate again")
				continue
			}
			merged, ok := mergeRule(in, sub)
			if !ok {
				continue // no match block of the delegate fits inside the root's
			}
			out = append(out, rule{doc: del, path: subPath, http: merged,
				name: def + "." + del.Namespace + "/" + del.Name + "." + strconv.Itoa(j)})
		}
	}
	return out
}

func (b *builder) delegateDoc(d *schema.Document, path string, ref *schema.Delegate) *schema.Document {
	ns := ref.Namespace
	if ns == "" {
		ns = d.Namespace
	}
	for _, c := range b.docs(schema.KindVirtualService) {
		if c.Name == ref.Name && c.Namespace == ns {
			if len(c.Spec.(*schema.VirtualService).Hosts) > 0 {
				b.errorf(d, path, "VirtualService %s/%s has hosts: a delegate has none", ns, ref.Name)
				return nil
			}
			// Istio merges a delegate only into roots its exportTo reaches (and drops the
			// rule silently otherwise); a rule that routes nothing is an error here.
			if exported := schema.ExportedTo(c.Namespace, c.Spec.(*schema.VirtualService).ExportTo); exported != nil && !slices.Contains(exported, d.Namespace) {
				b.errorf(d, path, "delegate VirtualService %s/%s is not exported to namespace %s (its exportTo: %v)",
					ns, ref.Name, d.Namespace, c.Spec.(*schema.VirtualService).ExportTo)
				return nil
			}
			return c
		}
	}
	b.errorf(d, path+".name", "delegate VirtualService %s/%s does not exist", ns, ref.Name)
	return nil
}

// mergeRule is Istio's mergeHTTPRoute: the delegate's rule under the root's matches, taking the
// root's settings where it has none of its own.
func mergeRule(root, sub schema.HTTPRoute) (schema.HTTPRoute, bool) {
	matches, ok := mergeMatches(root.Match, sub.Match)
	if !ok {
		return sub, false
	}
	sub.Match = matches
	switch {
	case sub.Name == "":
		sub.Name = root.Name
	case root.Name != "":
		sub.Name = root.Name + "-" + sub.Name
	}
	if sub.Rewrite == nil {
		sub.Rewrite = root.Rewrite
	}
	if sub.Timeout == "" {
		sub.Timeout = root.Timeout
	}
	if sub.Retries == nil {
		sub.Retries = root.Retries
	}
	if sub.Fault == nil {
		sub.Fault = root.Fault
	}
	if sub.Mirror == nil && len(sub.Mirrors) == 0 {
		sub.Mirror, sub.Mirrors = root.Mirror, root.Mirrors
		sub.MirrorPercent, sub.MirrorPercentage = root.MirrorPercent, root.MirrorPercentage
	}
	if sub.CorsPolicy == nil {
		sub.CorsPolicy = root.CorsPolicy
	}
	if sub.Headers == nil {
		sub.Headers = root.Headers
	}
	return sub, true
}

// mergeMatches keeps every delegate match that does not conflict with some root match, narrowed
// by that root match's conditions. No root matches: the delegate's stand; no delegate matches:
// the root's. Nothing left means the rule can never match.
func mergeMatches(root, sub []schema.HTTPMatchRequest) ([]schema.HTTPMatchRequest, bool) {
	if len(root) == 0 {
		return sub, true
	}
	if len(sub) == 0 {
		return root, true
	}
	var out []schema.HTTPMatchRequest
	for _, s := range sub {
		for _, r := range root {
			if conflicts(r, s) {
				continue
			}
			m := s
			if m.URI == nil {
				m.URI = r.URI
			}
			if m.Scheme == nil {
				m.Scheme = r.Scheme
			}
			if m.Method == nil {
				m.Method = r.Method
			}
			if m.Authority == nil {
				m.Authority = r.Authority
			}
			if m.Port == 0 {
				m.Port = r.Port
			}
			if len(m.Gateways) == 0 {
				m.Gateways = r.Gateways // named from the root's namespace (effectiveRules)
			}
			m.Headers = mergeMap(r.Headers, s.Headers)
			m.WithoutHeaders = mergeMap(r.WithoutHeaders, s.WithoutHeaders)
			m.QueryParams = mergeMap(r.QueryParams, s.QueryParams)
			m.IgnoreURICase = m.IgnoreURICase || r.IgnoreURICase
			out = append(out, m)
		}
	}
	return out, len(out) > 0
}

func mergeMap(root, sub map[string]schema.StringMatch) map[string]schema.StringMatch {
	if len(root) == 0 {
		return sub
	}
	out := maps.Clone(root)
	maps.Copy(out, sub)
	return out
}

// conflicts reports whether no request can satisfy both matches (Istio's hasConflict): the
// delegate's path must lie inside the root's, and shared conditions must agree.
func conflicts(root, sub schema.HTTPMatchRequest) bool {
	if root.URI != nil && sub.URI != nil && !uriInside(*root.URI, *sub.URI) {
		return true
	}
	for _, p := range [][2]*schema.StringMatch{{root.Scheme, sub.Scheme}, {root.Method, sub.Method}, {root.Authority, sub.Authority}} {
		if p[0] != nil && p[1] != nil && *p[0] != *p[1] {
			return true
		}
	}
	for k, v := range root.Headers {
		if w, ok := sub.Headers[k]; ok && v != w {
			return true
		}
	}
	for k, v := range root.QueryParams {
		if w, ok := sub.QueryParams[k]; ok && v != w {
			return true
		}
	}
	if root.Port != 0 && sub.Port != 0 && root.Port != sub.Port {
		return true
	}
	return root.IgnoreURICase != sub.IgnoreURICase && root.URI != nil && sub.URI != nil
}

// uriInside: an exact or prefix delegate path lies inside a root prefix it starts with; an
// exact root admits only itself; regexes must be equal.
func uriInside(root, sub schema.StringMatch) bool {
	switch {
	case root.Regex != "" || sub.Regex != "":
		return root == sub
	case root.Exact != "":
		return sub.Exact == root.Exact
	default:
		p := sub.Prefix
		if sub.Exact != "" {
			p = sub.Exact
		}
		return strings.HasPrefix(p, root.Prefix)
	}
}

// withFullGatewayNames names the gateways of root match blocks as namespace/name, so that once
// merged into a delegate's rules (translated in the delegate's namespace) they still name the
// root's gateways. The blocks are copied: the document stays as written.
func withFullGatewayNames(namespace string, ms []schema.HTTPMatchRequest) []schema.HTTPMatchRequest {
	out := slices.Clone(ms)
	for i := range out {
		if len(out[i].Gateways) > 0 {
			out[i].Gateways = schema.BoundGateways(namespace, out[i].Gateways)
		}
	}
	return out
}
