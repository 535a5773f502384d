package schema

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
)

func checkPeerAuthentication(s *docState, pa *PeerAuthentication) {
	if pa.Selector != nil {
		checkSelector(s, "spec.selector.matchLabels", pa.Selector.MatchLabels)
	}
	if s.has("spec.portLevelMtls") {
		if len(pa.PortLevelMTLS) == 0 {
			s.fail("spec.portLevelMtls", "must not be empty when given")
		}
		if pa.Selector == nil || len(pa.Selector.MatchLabels) == 0 {
			s.fail("spec.portLevelMtls", "needs a selector with labels: a mesh or namespace policy cannot set port-level mTLS")
		}
	}
}

// checkPortKeys checks the keys of portLevelMtls before the document is decoded: each must be
// a port number.
func checkPortKeys(s *docState, keys []string, path string) {
	for _, k := range keys {
		n, err := strconv.ParseUint(k, 10, 64)
		switch {
		case err != nil:
			s.failf(key(path, k), "must be a port number, got %q", k)
		case n < 1 || n > 65535:
			s.failf(key(path, k), "port must be between 1 and 65535, got %d", n)
		}
	}
}

// checkTargets applies the rules shared by the security policies: one of selector, targetRef
// and targetRefs; targets are Services, ServiceEntries or Gateway API Gateways, in the
// policy's namespace.
func checkTargets(s *docState, sel *WorkloadSelector, ref *PolicyTargetReference, refs []PolicyTargetReference) {
	n := 0
	for _, set := range []bool{sel != nil, ref != nil, len(refs) > 0} {
		if set {
			n++
		}
	}
	if n > 1 {
		s.fail("spec", "only one of selector, targetRef or targetRefs can be set")
	}
	if sel != nil {
		checkSelector(s, "spec.selector.matchLabels", sel.MatchLabels)
	}
	if ref != nil {
		checkTarget(s, "spec.targetRef", ref)
	}
	for i := range refs {
		checkTarget(s, idx("spec.targetRefs", i), &refs[i])
	}
}

func checkTarget(s *docState, p string, r *PolicyTargetReference) {
	if r.Namespace != "" && r.Namespace != s.doc.Namespace {
		s.fail(p+".namespace", "cross-namespace references are not supported; the target must be in the policy's namespace")
	}
	switch r.Group + "/" + r.Kind {
	case "/Service", "core/Service", "networking.istio.io/ServiceEntry", "gateway.networking.k8s.io/Gateway":
	default:
		s.failf(p+".kind", "a target must be a Service (group \"\"), a ServiceEntry (networking.istio.io) or a Gateway (gateway.networking.k8s.io), got %s/%s", r.Group, r.Kind)
	}
}

func checkAuthorizationPolicy(s *docState, ap *AuthorizationPolicy) {
	checkTargets(s, ap.Selector, ap.TargetRef, ap.TargetRefs)
	// Istio reads "rules: []" as no rules.
	hasRules := len(ap.Rules) > 0
	switch ap.Action {
	case "CUSTOM":
		if !hasRules {
			s.fail("spec.action", "a CUSTOM policy without rules never applies; add an empty rule {} to apply it to every request")
		} else if ap.Provider == nil || ap.Provider.Name == "" {
			s.fail("spec.provider", "provider.name is required with action CUSTOM")
		}
		for i, r := range ap.Rules {
			p := idx("spec.rules", i)
			for j, f := range r.From {
				if src := f.Source; src != nil {
					for _, set := range []struct {
						name string
						v    []string
					}{{"namespaces", src.Namespaces}, {"notNamespaces", src.NotNamespaces}, {"principals", src.Principals},
						{"notPrincipals", src.NotPrincipals}, {"requestPrincipals", src.RequestPrincipals}, {"notRequestPrincipals", src.NotRequestPrincipals}} {
						if len(set.v) > 0 {
							s.fail(idx(p+".from", j)+".source."+set.name, "is not supported with action CUSTOM")
						}
					}
				}
			}
			for j, c := range r.When {
				if c.Key == "source.namespace" || c.Key == "source.principal" || strings.HasPrefix(c.Key, "request.auth.") {
					s.failf(idx(p+".when", j)+".key", "%s is not supported with action CUSTOM", c.Key)
				}
			}
		}
	case "DENY":
		if !hasRules {
			s.fail("spec.action", "a DENY policy without rules never applies; add an empty rule {} to deny every request")
		}
	}
	if ap.Provider != nil && ap.Action != "CUSTOM" {
		s.fail("spec.provider", "is only allowed with action CUSTOM")
	}
	for i, r := range ap.Rules {
		checkAuthorizationRule(s, idx("spec.rules", i), &r)
	}
}

func checkAuthorizationRule(s *docState, p string, r *AuthorizationRule) {
	if s.has(p+".from") && len(r.From) == 0 {
		s.fail(p+".from", "must not be empty when given")
	}
	for i, f := range r.From {
		fp := idx(p+".from", i)
		src := f.Source
		if src == nil {
			s.fail(fp+".source", "is required")
			continue
		}
		sp := fp + ".source"
		fields := []struct {
			name string
			v    []string
		}{
			{"principals", src.Principals}, {"notPrincipals", src.NotPrincipals},
			{"requestPrincipals", src.RequestPrincipals}, {"notRequestPrincipals", src.NotRequestPrincipals},
			{"namespaces", src.Namespaces}, {"notNamespaces", src.NotNamespaces},
			{"serviceAccounts", src.ServiceAccounts}, {"notServiceAccounts", src.NotServiceAccounts},
			{"ipBlocks", src.IPBlocks}, {"notIpBlocks", src.NotIPBlocks},
			{"remoteIpBlocks", src.RemoteIPBlocks}, {"notRemoteIpBlocks", src.NotRemoteIPBlocks},
			{"trustDomains", src.TrustDomains}, {"notTrustDomains", src.NotTrustDomains},
		}
		empty := true
		for _, f := range fields {
			empty = empty && len(f.v) == 0
			checkNonEmptyValues(s, sp+"."+f.name, f.v)
		}
		if empty {
			s.fail(sp, "must set at least one field")
		}
		checkIPOrCIDRs(s, sp+".ipBlocks", src.IPBlocks)
		checkIPOrCIDRs(s, sp+".notIpBlocks", src.NotIPBlocks)
		checkIPOrCIDRs(s, sp+".remoteIpBlocks", src.RemoteIPBlocks)
		checkIPOrCIDRs(s, sp+".notRemoteIpBlocks", src.NotRemoteIPBlocks)
		checkServiceAccounts(s, sp+".serviceAccounts", src.ServiceAccounts)
		checkServiceAccounts(s, sp+".notServiceAccounts", src.NotServiceAccounts)
		if len(src.ServiceAccounts) > 0 && (len(src.Namespaces) > 0 || len(src.Principals) > 0) {
			s.fail(sp+".serviceAccounts", "cannot be set together with namespaces or principals (put them in separate sources)")
		}
		if len(src.NotServiceAccounts) > 0 && (len(src.NotNamespaces) > 0 || len(src.NotPrincipals) > 0) {
			s.fail(sp+".notServiceAccounts", "cannot be set together with notNamespaces or notPrincipals (put them in separate sources)")
		}
	}
	if s.has(p+".to") && len(r.To) == 0 {
		s.fail(p+".to", "must not be empty when given")
	}
	for i, t := range r.To {
		tp := idx(p+".to", i)
		op := t.Operation
		if op == nil {
			s.fail(tp+".operation", "is required")
			continue
		}
		opp := tp + ".operation"
		fields := []struct {
			name string
			v    []string
		}{
			{"hosts", op.Hosts}, {"notHosts", op.NotHosts}, {"ports", op.Ports}, {"notPorts", op.NotPorts},
			{"methods", op.Methods}, {"notMethods", op.NotMethods}, {"paths", op.Paths}, {"notPaths", op.NotPaths},
		}
		empty := true
		for _, f := range fields {
			empty = empty && len(f.v) == 0
			checkNonEmptyValues(s, opp+"."+f.name, f.v)
		}
		if empty {
			s.fail(opp, "must set at least one field")
		}
		checkPortStrings(s, opp+".ports", op.Ports)
		checkPortStrings(s, opp+".notPorts", op.NotPorts)
		checkPathTemplates(s, opp+".paths", op.Paths)
		checkPathTemplates(s, opp+".notPaths", op.NotPaths)
	}
	for i, c := range r.When {
		cp := idx(p+".when", i)
		if c.Key == "" {
			s.fail(cp+".key", "must not be empty")
			continue
		}
		if len(c.Values) == 0 && len(c.NotValues) == 0 {
			s.fail(cp, "needs values or notValues")
			continue
		}
		checkCondition(s, cp, c)
	}
}

func checkNonEmptyValues(s *docState, p string, v []string) {
	for i, x := range v {
		if x == "" {
			s.fail(idx(p, i), "must not be empty")
		}
	}
}

func checkPortStrings(s *docState, p string, ports []string) {
	for i, x := range ports {
		if n, err := strconv.ParseUint(x, 10, 32); err != nil || n > 65535 {
			s.failf(idx(p, i), "must be a port number up to 65535, got %q", x)
		}
	}
}

// checkPathTemplates applies Istio's rules for path templates ("/foo/{*}/bar", "/{**}/bar"):
// "{*}" and "{**}" are whole segments, nothing template-like follows "{**}", and the other
// segments of a templated path are plain URI characters.
func checkPathTemplates(s *docState, p string, paths []string) {
	for i, x := range paths {
		templated := strings.Contains(x, "{*}") || strings.Contains(x, "{**}")
		anySeen := false
		for _, seg := range strings.Split(strings.Trim(x, "/"), "/") {
			reason := ""
			switch {
			case (seg == "{*}" || seg == "{**}") && anySeen:
				reason = "{**} must be the last template operator"
			case seg == "{**}":
				anySeen = true
			case seg == "{*}":
			case strings.ContainsAny(seg, "{}"):
				reason = "'{' and '}' only appear as {*} or {**}"
			case templated && !isPathLiteral(seg):
				reason = "segment " + strconv.Quote(seg) + " has characters a path template does not allow"
			}
			if reason != "" {
				s.failf(idx(p, i), "invalid path template %q: %s", x, reason)
				break
			}
		}
	}
}

// isPathLiteral: RFC 3986 path characters (pchar), as Envoy's path templates require.
func isPathLiteral(seg string) bool {
	if seg == "" {
		return false
	}
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~%!$&'()+,;:@=", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// checkServiceAccounts applies Istio's rules for service accounts: "name" or "namespace/name",
// no wildcards, at most 16.
func checkServiceAccounts(s *docState, p string, v []string) {
	if len(v) > 16 {
		s.fail(p, "at most 16 service accounts")
	}
	for i, sa := range v {
		ns, name, cut := strings.Cut(sa, "/")
		switch {
		case strings.Contains(sa, "*"):
			s.failf(idx(p, i), "wildcards are not allowed in service accounts, got %q", sa)
		case len(sa) > 320:
			s.fail(idx(p, i), "longer than 320 characters")
		case strings.Count(sa, "/") > 1 || cut && (ns == "" || name == "") || sa == "":
			s.failf(idx(p, i), "must be \"name\" or \"namespace/name\", got %q", sa)
		}
	}
}

// checkCondition checks the key of a when condition and, for keys with a syntax, its values.
func checkCondition(s *docState, p string, c Condition) {
	checkNonEmptyValues(s, p+".values", c.Values)
	checkNonEmptyValues(s, p+".notValues", c.NotValues)
	k := c.Key
	switch {
	case strings.HasPrefix(k, "request.headers"), strings.HasPrefix(k, "request.experimental.inline.headers"),
		strings.HasPrefix(k, "request.auth.claims"), strings.HasPrefix(k, "experimental.envoy.filters."):
		if !validMapKey(k) {
			s.failf(p+".key", "invalid key %q: want name[key]", k)
		}
	case k == "source.ip", k == "remote.ip", k == "destination.ip":
		checkIPOrCIDRs(s, p+".values", c.Values)
		checkIPOrCIDRs(s, p+".notValues", c.NotValues)
	case k == "destination.port":
		checkPortStrings(s, p+".values", c.Values)
		checkPortStrings(s, p+".notValues", c.NotValues)
	case k == "source.serviceAccount":
		checkServiceAccounts(s, p+".values", c.Values)
		checkServiceAccounts(s, p+".notValues", c.NotValues)
	case k == "source.namespace", k == "source.principal", k == "request.auth.principal",
		k == "request.auth.audiences", k == "request.auth.presenter", k == "connection.sni",
		k == "source.trustDomain": // deprecated, still accepted by Istio's schema
	case k == "destination.namespace":
		s.fail(p+".key", "destination.namespace is replaced by the policy's namespace")
	case strings.HasPrefix(k, "destination.labels"):
		s.fail(p+".key", "destination.labels is replaced by the workload selector")
	case k == "destination.name", k == "destination.user":
		s.failf(p+".key", "%s is no longer supported", k)
	default:
		s.failf(p+".key", "unknown attribute %q (such as request.headers[NAME], source.ip, source.namespace, request.auth.claims[NAME], destination.port)", k)
	}
}

// validMapKey checks "name[key]" (and "name[key1][key2]") as Istio does.
func validMapKey(k string) bool {
	open := strings.IndexByte(k, '[')
	return strings.HasSuffix(k, "]") && open > 0 && open < len(k)-2
}

func checkRequestAuthentication(s *docState, ra *RequestAuthentication) {
	checkTargets(s, ra.Selector, ra.TargetRef, ra.TargetRefs)
	for i, r := range ra.JWTRules {
		p := idx("spec.jwtRules", i)
		if r.JWKSURI != "" {
			u, err := url.Parse(r.JWKSURI)
			switch {
			case err != nil:
				s.failf(p+".jwksUri", "not a URL: %v", err)
			case u.Scheme != "http" && u.Scheme != "https":
				s.failf(p+".jwksUri", "must be an http or https URL, got %q", r.JWKSURI)
			case u.Host == "":
				s.failf(p+".jwksUri", "must name a host, got %q", r.JWKSURI)
			}
		}
		if r.JWKS != "" {
			var v map[string]any
			if err := json.Unmarshal([]byte(r.JWKS), &v); err != nil {
				s.fail(p+".jwks", "must be a JSON Web Key Set (a JSON object)")
			}
		}
		checkDuration(s, p+".timeout", r.Timeout)
	}
}
