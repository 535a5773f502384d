package schema

import (
	"fmt"
	"net/netip"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"time"
)

// check runs the rules that the schemas leave to Go, on a document that passed them: one-of
// groups, rules across fields, minimum durations, RE2 validity of regexes, address syntax and
// uniqueness within a list (pointing at the repeat). Their findings take the same positioned
// form as the schema's. Istio's validation (pkg/config/validation) is the reference for each.
func check(s *docState) {
	switch spec := s.doc.Spec.(type) {
	case *VirtualService:
		checkVirtualService(s, spec)
	case *DestinationRule:
		checkDestinationRule(s, spec)
	case *ServiceEntry:
		checkServiceEntry(s, spec)
	case *Gateway:
		checkGateway(s, spec)
	case *WorkloadEntry:
		checkWorkloadEntry(s, spec)
	case *Sidecar:
		checkSidecar(s, spec)
	case *PeerAuthentication:
		checkPeerAuthentication(s, spec)
	case *AuthorizationPolicy:
		checkAuthorizationPolicy(s, spec)
	case *RequestAuthentication:
		checkRequestAuthentication(s, spec)
	case *KubernetesService:
		checkKubernetesService(s, spec)
	}
}

// fail reports a rule broken at path.
func (s *docState) fail(path, reason string) {
	s.report(s.doc.PosOf(path), path, reason)
}

// failf is fail with a formatted reason.
func (s *docState) failf(path, format string, args ...any) {
	s.fail(path, fmt.Sprintf(format, args...))
}

func idx(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// key appends a map key to a path the way the walker records it.
func key(path, k string) string { return joinKey(path, k) }

// checkDuration enforces Istio's rule for most durations: at least 1ms, whole milliseconds.
// The schema has already checked the syntax.
func checkDuration(s *docState, path, d string) {
	if d == "" {
		return
	}
	v, err := ParseDuration(d)
	switch {
	case err != nil:
		s.fail(path, err.Error())
	case v < time.Millisecond:
		s.failf(path, "must be at least 1ms, got %q", d)
	case v%time.Millisecond != 0:
		s.failf(path, "must be a whole number of milliseconds, got %q", d)
	}
}

// checkRegex reports a regular expression Envoy (RE2) would refuse, or one over Istio's size
// limit.
func checkRegex(s *docState, path, re string) {
	if len(re) > 1024 {
		s.fail(path, "regular expression longer than 1024 characters (Istio's limit)")
		return
	}
	// Go's regexp/syntax with Perl flags is the RE2 syntax.
	if _, err := syntax.Parse(re, syntax.Perl); err != nil {
		msg := err.Error()
		if e, ok := err.(*syntax.Error); ok {
			msg = e.Code.String() + ": `" + e.Expr + "`"
		}
		s.fail(path, "not a valid RE2 regular expression: "+msg)
	}
}

// checkStringMatch enforces the one-of of a StringMatch. empty says whether {} (presence) is
// allowed.
func checkStringMatch(s *docState, path string, m *StringMatch, empty bool) {
	if m == nil {
		return
	}
	n := 0
	for _, set := range []bool{m.Exact != "", m.Prefix != "", m.Regex != ""} {
		if set {
			n++
		}
	}
	set := s.has(path+".exact") || s.has(path+".prefix") || s.has(path+".regex")
	switch {
	case n > 1:
		s.fail(path, "must set exactly one of exact, prefix or regex")
	case n == 0 && !set && !empty:
		s.fail(path, "must set exactly one of exact, prefix or regex")
	case s.has(path+".prefix") && m.Prefix == "":
		s.fail(path+".prefix", "must not be empty")
	case s.has(path+".regex") && m.Regex == "":
		s.fail(path+".regex", "must not be empty")
	case m.Regex != "":
		checkRegex(s, path+".regex", m.Regex)
	}
}

// has says whether the document holds the field at path.
func (s *docState) has(path string) bool {
	_, ok := s.doc.fields[path]
	return ok
}

// unique reports every element of the list at path whose key field repeats an earlier one.
// Empty values are not compared (an optional field left out).
func unique(s *docState, path, what string, n int, keyOf func(i int) (field, value string)) {
	first := map[string]int{}
	for i := 0; i < n; i++ {
		f, v := keyOf(i)
		if v == "" || v == "0" {
			continue
		}
		if j, ok := first[v]; ok {
			p := idx(path, i)
			if f != "" {
				p += "." + f
			}
			s.failf(p, "duplicate %s %s, first at %s[%d]", what, v, path, j)
			continue
		}
		first[v] = i
	}
}

// isIP says whether a is an IP address.
func isIP(a string) bool {
	_, err := netip.ParseAddr(a)
	return err == nil
}

// isIPOrCIDR says whether a is an IP address or a CIDR prefix.
func isIPOrCIDR(a string) bool {
	if isIP(a) {
		return true
	}
	_, err := netip.ParsePrefix(a)
	return err == nil
}

func checkIPOrCIDRs(s *docState, path string, list []string) {
	for i, a := range list {
		if !isIPOrCIDR(a) {
			s.failf(idx(path, i), "must be an IP address or a CIDR prefix, got %q", a)
		}
	}
}

// isFQDN says whether h is a DNS name Istio accepts as fully qualified: dot-separated labels of
// letters, digits and '-', 255 characters at most.
func isFQDN(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 255 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if !isDNSLabel(l, true) {
			return false
		}
	}
	return true
}

// isDNSLabel says whether l is a DNS-1123 label (upper case allowed when mixed is set).
func isDNSLabel(l string, mixed bool) bool {
	if l == "" || len(l) > 63 {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case mixed && c >= 'A' && c <= 'Z':
		case c == '-' && i > 0 && i < len(l)-1:
		default:
			return false
		}
	}
	return true
}

// checkLabels applies Kubernetes' label syntax, as Istio does for subsets, matches and
// endpoints.
func checkLabels(s *docState, path string, labels map[string]string) {
	for k, v := range labels {
		if reason := labelKeyProblem(k); reason != "" {
			s.failf(key(path, k), "invalid label key %q: %s", k, reason)
		}
		if v != "" && !isLabelName(v) {
			s.failf(key(path, k), "invalid label value %q: at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit", v)
		}
	}
}

func labelKeyProblem(k string) string {
	name := k
	if prefix, rest, ok := strings.Cut(k, "/"); ok {
		if !isFQDN(prefix) || strings.ToLower(prefix) != prefix {
			return "the prefix must be a lowercase DNS subdomain"
		}
		name = rest
	}
	if !isLabelName(name) {
		return "the name must be at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
	}
	return ""
}

func isLabelName(n string) bool {
	if n == "" || len(n) > 63 {
		return false
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	for i := 0; i < len(n); i++ {
		c := n[i]
		if alnum(c) {
			continue
		}
		if (c == '-' || c == '_' || c == '.') && i > 0 && i < len(n)-1 {
			continue
		}
		return false
	}
	return true
}

// checkSelector applies Istio's rules for a workload selector: no empty keys, no wildcards.
func checkSelector(s *docState, path string, labels map[string]string) {
	for k, v := range labels {
		if k == "" {
			s.fail(key(path, k), "empty label key is not supported in a selector")
		}
		if strings.Contains(k, "*") || strings.Contains(v, "*") {
			s.failf(key(path, k), "wildcard is not supported in a selector: %q", k+"="+v)
		}
	}
}

// checkExportTo applies Istio's rules for exportTo: no repeats ("." is the own namespace),
// "*" alone, "~" only in a ServiceEntry and alone.
func checkExportTo(s *docState, path string, list []string, serviceEntry bool) {
	for i, e := range list {
		// A repeated "~" is reported as a repeat.
		if e == "~" && !serviceEntry && !slices.Contains(list[:i], e) {
			s.fail(idx(path, i), `"~" (visible to no one) is only allowed in a ServiceEntry`)
		}
	}
	checkExportToList(s, path, list, func(i int) string { return idx(path, i) })
}

// checkExportToList reports repeated entries (at(i), the place of entry i) and "*" or "~"
// beside others (at path), where "~" is allowed.
func checkExportToList(s *docState, path string, list []string, at func(i int) string) {
	seen := map[string]bool{}
	for i, e := range list {
		k := e
		if e == "." {
			k = s.doc.Namespace
		}
		if seen[k] {
			s.failf(at(i), "duplicate entry %q", e)
		}
		seen[k] = true
	}
	if len(list) > 1 && (seen["*"] || seen["~"]) {
		s.fail(path, `"*" and "~" cannot be combined with other entries`)
	}
}
