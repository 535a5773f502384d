package schema

import (
	"fmt"
	"strings"
)

func checkServiceEntry(s *docState, se *ServiceEntry) {
	if se.WorkloadSelector != nil {
		checkSelector(s, "spec.workloadSelector.labels", se.WorkloadSelector.Labels)
		if s.has("spec.endpoints") {
			s.fail("spec.workloadSelector", "must set one of workloadSelector or endpoints, not both")
		}
	}
	for i, h := range se.Hosts {
		if h == "*" {
			s.fail(idx("spec.hosts", i), `host "*" is not allowed in a ServiceEntry`)
		}
	}
	cidr := false
	for i, a := range se.Addresses {
		if !isIPOrCIDR(a) {
			s.failf(idx("spec.addresses", i), "must be an IP address or a CIDR prefix, got %q", a)
		}
		cidr = cidr || strings.Contains(a, "/")
	}
	resolution := se.Resolution
	if resolution == "" {
		resolution = "NONE"
	}
	if cidr && resolution != "NONE" && resolution != "STATIC" {
		s.fail("spec.addresses", "CIDR addresses are only allowed with resolution NONE or STATIC")
	}
	unique(s, "spec.ports", "port number", len(se.Ports), func(i int) (string, string) {
		return "number", fmt.Sprint(se.Ports[i].Number)
	})
	unique(s, "spec.ports", "port name", len(se.Ports), func(i int) (string, string) {
		return "name", se.Ports[i].Name
	})
	portNames := map[string]bool{} // never nil: it tells a ServiceEntry's endpoints from a WorkloadEntry
	for i, p := range se.Ports {
		portNames[p.Name] = true
		if len(p.Name) > 63 {
			s.fail(idx("spec.ports", i)+".name", "longer than 63 characters (a DNS-1123 label)")
		}
	}
	switch resolution {
	case "NONE":
		if len(se.Endpoints) > 0 {
			s.fail("spec.endpoints", "resolution NONE (the default) cannot have endpoints; set resolution: STATIC or DNS")
		}
	case "STATIC":
		for i := range se.Endpoints {
			checkEndpoint(s, idx("spec.endpoints", i), &se.Endpoints[i], portNames, false)
		}
	case "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS":
		if len(se.Endpoints) == 0 {
			for i, h := range se.Hosts {
				if !isFQDN(h) {
					s.failf(idx("spec.hosts", i), "must be a DNS name (no wildcard) when resolution %s has no endpoints, got %q", resolution, h)
				}
			}
		}
		if resolution == "DNS_ROUND_ROBIN" && len(se.Endpoints) > 1 {
			s.fail("spec.endpoints", "resolution DNS_ROUND_ROBIN allows at most one endpoint")
		}
		for i := range se.Endpoints {
			checkEndpoint(s, idx("spec.endpoints", i), &se.Endpoints[i], portNames, true)
		}
	}
	if resolution != "NONE" && len(se.Hosts) > 1 {
		for i, p := range se.Ports {
			switch strings.ToUpper(p.Protocol) {
			case "HTTP", "HTTPS", "HTTP2", "GRPC", "GRPC-WEB", "TLS", "HTTP_PROXY":
				continue
			}
			s.fail(idx("spec.ports", i)+".protocol", "several hosts need HTTP or TLS ports to tell them apart (or resolution NONE)")
			break
		}
	}
	checkExportTo(s, "spec.exportTo", se.ExportTo, true)
	for i, san := range se.SubjectAltNames {
		if san == "" {
			s.fail(idx("spec.subjectAltNames", i), "must not be empty")
		}
	}
}

// checkEndpoint applies Istio's endpoint rules. dns allows host names as addresses (DNS
// resolution, and a WorkloadEntry); ports maps the service's port names, nil when unknown.
func checkEndpoint(s *docState, p string, ep *WorkloadEndpoint, ports map[string]bool, dns bool) {
	addr := ep.Address
	switch {
	case addr == "" && ports != nil && !dns:
		s.fail(p+".address", "is required with resolution STATIC")
	case addr == "" && ports == nil:
		if ep.Network == "" {
			s.fail(p+".address", "is required (unless network is set)")
		}
	case strings.HasPrefix(addr, "unix://") && dns && ports != nil:
		s.fail(p+".address", "a unix domain socket endpoint needs resolution STATIC")
	case strings.HasPrefix(addr, "unix://"):
		checkUnixPath(s, p+".address", strings.TrimPrefix(addr, "unix://"))
		if len(ep.Ports) > 0 {
			s.fail(p+".ports", "a unix domain socket endpoint cannot have ports")
		}
		if ports != nil && len(ports) != 1 {
			s.fail(p+".address", "a unix domain socket endpoint needs a ServiceEntry with exactly one port")
		}
	case addr != "" && !isIP(addr) && !dns:
		s.failf(p+".address", "must be an IP address or a unix:// path with resolution STATIC, got %q", addr)
	case addr != "" && !isIP(addr) && !isFQDN(addr):
		s.failf(p+".address", "must be an IP address, a DNS name or a unix:// path, got %q", addr)
	}
	for name := range ep.Ports {
		kp := key(p+".ports", name)
		if !isDNSLabel(name, false) {
			s.failf(kp, "invalid port name %q: a lowercase DNS-1123 label", name)
		} else if ports != nil && !ports[name] {
			s.failf(kp, "port %q is not a port of the ServiceEntry", name)
		}
	}
	checkLabels(s, p+".labels", ep.Labels)
}

func checkWorkloadEntry(s *docState, we *WorkloadEntry) {
	checkEndpoint(s, "spec", we, nil, true)
}
