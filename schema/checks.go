package schema

import (
	"fmt"
	"net/netip"
	"regexp/syntax"
	"strconv"
	"strings"
)

// check runs the rules that CUE cannot say well, on a document that passed the schema: RE2
// validity of regexes, uniqueness within a list (pointing at the repeat), address syntax. Their
// findings take the same positioned form as the schema's.
func check(s *docState) {
	switch spec := s.doc.Spec.(type) {
	case *VirtualService:
		checkVirtualService(s, spec)
	case *DestinationRule:
		unique(s, "spec.subsets", "subset name", len(spec.Subsets), func(i int) (string, string) {
			return "name", spec.Subsets[i].Name
		})
	case *ServiceEntry:
		checkServiceEntry(s, spec)
	}
}

func checkVirtualService(s *docState, vs *VirtualService) {
	mesh := len(vs.Gateways) == 0
	for _, g := range vs.Gateways {
		mesh = mesh || g == "mesh"
	}
	for i, h := range vs.Hosts {
		if h == "*" && mesh {
			p := fmt.Sprintf("spec.hosts[%d]", i)
			s.report(s.doc.PosOf(p), p, `host "*" is only allowed for a VirtualService bound to gateways (not to the mesh)`)
		}
	}
	for i, r := range vs.HTTP {
		for j, m := range r.Match {
			p := fmt.Sprintf("spec.http[%d].match[%d]", i, j)
			if m.URI != nil {
				checkRegex(s, p+".uri", *m.URI)
			}
			for name, hm := range m.Headers {
				checkRegex(s, p+".headers."+name, hm)
			}
		}
	}
}

func checkRegex(s *docState, path string, m StringMatch) {
	if m.Regex == "" {
		return
	}
	// Envoy matches with RE2; Go's regexp/syntax with Perl flags is the RE2 syntax.
	if _, err := syntax.Parse(m.Regex, syntax.Perl); err != nil {
		p := path + ".regex"
		msg := err.Error()
		if e, ok := err.(*syntax.Error); ok {
			msg = e.Code.String() + ": `" + e.Expr + "`"
		}
		s.report(s.doc.PosOf(p), p, "not a valid RE2 regular expression: "+msg)
	}
}

func checkServiceEntry(s *docState, se *ServiceEntry) {
	for i, h := range se.Hosts {
		if h == "*" {
			p := fmt.Sprintf("spec.hosts[%d]", i)
			s.report(s.doc.PosOf(p), p, `host "*" is not allowed in a ServiceEntry`)
		}
	}
	for i, a := range se.Addresses {
		if _, err := netip.ParseAddr(a); err == nil {
			continue
		}
		if _, err := netip.ParsePrefix(a); err != nil {
			p := fmt.Sprintf("spec.addresses[%d]", i)
			s.report(s.doc.PosOf(p), p, fmt.Sprintf("must be an IP address or a CIDR prefix, got %q", a))
		}
	}
	unique(s, "spec.ports", "port number", len(se.Ports), func(i int) (string, string) {
		return "number", strconv.Itoa(int(se.Ports[i].Number))
	})
	unique(s, "spec.ports", "port name", len(se.Ports), func(i int) (string, string) {
		return "name", se.Ports[i].Name
	})
	for i, ep := range se.Endpoints {
		p := fmt.Sprintf("spec.endpoints[%d].address", i)
		if ep.Address == "" {
			s.report(s.doc.PosOf(p), p, "is required with resolution STATIC")
		} else if _, err := netip.ParseAddr(ep.Address); err != nil {
			reason := fmt.Sprintf("must be an IP address with resolution STATIC, got %q", ep.Address)
			if strings.HasPrefix(ep.Address, "unix://") {
				reason = "unix domain socket endpoints are not supported yet"
			}
			s.report(s.doc.PosOf(p), p, reason)
		}
	}
}

// unique reports every element of the list at path whose key field repeats an earlier one.
// Empty values are not compared (an optional field left out).
func unique(s *docState, path, what string, n int, key func(i int) (field, value string)) {
	first := map[string]int{}
	for i := 0; i < n; i++ {
		f, v := key(i)
		if v == "" || v == "0" {
			continue
		}
		if j, ok := first[v]; ok {
			p := fmt.Sprintf("%s[%d].%s", path, i, f)
			s.report(s.doc.PosOf(p), p, fmt.Sprintf("duplicate %s %s, first at %s[%d]", what, v, path, j))
			continue
		}
		first[v] = i
	}
}
