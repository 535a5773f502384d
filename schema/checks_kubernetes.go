package schema

import (
	"fmt"
	"regexp"
	"strings"
)

// checkKubernetesService applies the rules Kubernetes' API server holds a Service to (its
// ValidateService) where they concern fields signalbox reads, and Istio's reading of the
// exportTo annotation. A Service the API server would refuse never reaches Istio, so the
// schema refuses it too.
func checkKubernetesService(s *docState, svc *KubernetesService) {
	if len(svc.Ports) == 0 && !svc.Headless() && !svc.ExternalNameType() {
		s.fail("spec.ports", "a Service needs at least one port (unless headless, clusterIP: None, or of type ExternalName)")
	}
	if len(svc.Ports) > 1 {
		for i, p := range svc.Ports {
			if p.Name == "" {
				s.fail(idx("spec.ports", i)+".name", "is required when a Service has several ports")
			}
		}
	}
	unique(s, "spec.ports", "port name", len(svc.Ports), func(i int) (string, string) {
		return "name", svc.Ports[i].Name
	})
	unique(s, "spec.ports", "port", len(svc.Ports), func(i int) (string, string) {
		proto := svc.Ports[i].Protocol
		if proto == "" {
			proto = "TCP"
		}
		return "port", fmt.Sprintf("%d/%s", svc.Ports[i].Port, proto)
	})
	for i, p := range svc.Ports {
		if n := p.TargetPort.Name; n != "" && !isIANAServiceName(n) {
			s.failf(idx("spec.ports", i)+".targetPort",
				"invalid port name %q: at most 15 lowercase letters, digits and '-', with at least one letter, no '-' at either end or twice in a row", n)
		}
	}
	checkLabels(s, "spec.selector", svc.Selector)
	if svc.ExternalNameType() {
		switch {
		case svc.ExternalName == "":
			s.fail("spec.externalName", "is required with type ExternalName")
		case !isFQDN(svc.ExternalName) || strings.ToLower(svc.ExternalName) != svc.ExternalName:
			s.failf("spec.externalName", "must be a lowercase DNS name, got %q", svc.ExternalName)
		}
		if svc.ClusterIP != "" {
			s.fail("spec.clusterIP", "may not be set for a Service of type ExternalName")
		}
	}
	if v, ok := s.doc.Annotations[ExportToAnnotation]; ok {
		p := key("metadata.annotations", ExportToAnnotation)
		list := svc.Entry.ExportTo
		for _, e := range list {
			if !exportToEntry.MatchString(e) {
				s.failf(p, `invalid entry %q in %q: each must be ".", "*", "~" or a namespace name`, e, v)
			}
		}
		checkExportToList(s, p, list, func(int) string { return p })
	}
}

// exportToEntry is #ExportToEntry of the schema: the annotation is one string, checked here.
var exportToEntry = regexp.MustCompile(`^([.*~]|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$`)

// isIANAServiceName is Kubernetes' rule for a port name a targetPort refers to.
func isIANAServiceName(n string) bool {
	if n == "" || len(n) > 15 || n[0] == '-' || n[len(n)-1] == '-' || strings.Contains(n, "--") {
		return false
	}
	letter := false
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case c >= 'a' && c <= 'z':
			letter = true
		case c >= '0' && c <= '9', c == '-':
		default:
			return false
		}
	}
	return letter
}
