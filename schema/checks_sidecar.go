package schema

import "strings"

// checkSidecar applies Istio's rules for a Sidecar (pkg/config/validation ValidateSidecar): some
// configuration, a host in every egress listener, one listener without a port and last, ports
// unique, binds that are addresses (or unix:// paths for port 0), no targetPort, and an egress
// proxy only with ALLOW_ANY.
func checkSidecar(s *docState, sc *Sidecar) {
	if sc.WorkloadSelector != nil {
		checkSelector(s, "spec.workloadSelector.labels", sc.WorkloadSelector.Labels)
	}
	if len(sc.Egress) == 0 && len(sc.Ingress) == 0 && sc.OutboundTrafficPolicy == nil && sc.InboundConnectionPool == nil {
		s.fail("spec", "empty configuration: a Sidecar needs egress, ingress, outboundTrafficPolicy or inboundConnectionPool")
		return
	}
	ports := map[uint32]int{}
	for i := range sc.Ingress {
		p := idx("spec.ingress", i)
		in := &sc.Ingress[i]
		if in.Port.Number == 0 {
			s.fail(p+".port.number", "an ingress listener needs a port number from 1 to 65535")
		}
		if in.Port.TargetPort != 0 {
			s.fail(p+".port.targetPort", "has no effect on a Sidecar; remove it")
		}
		if in.Bind != "" && !isIP(in.Bind) {
			s.failf(p+".bind", "must be an IP address, got %q", in.Bind)
		}
		if j, ok := ports[in.Port.Number]; ok && in.Port.Number != 0 {
			s.failf(p+".port.number", "port %d is already the port of spec.ingress[%d]: ports on IP bound listeners must be unique", in.Port.Number, j)
		} else {
			ports[in.Port.Number] = i
		}
		if e := in.DefaultEndpoint; e != "" {
			checkDefaultEndpoint(s, p+".defaultEndpoint", e)
		}
	}
	ports = map[uint32]int{}
	sockets := map[string]int{}
	catchAll := -1
	for i := range sc.Egress {
		p := idx("spec.egress", i)
		eg := &sc.Egress[i]
		if eg.Port == nil {
			switch {
			case catchAll >= 0:
				s.failf(p, "egress can have only one listener without a port, and spec.egress[%d] is one", catchAll)
			case i != len(sc.Egress)-1:
				s.fail(p, "the egress listener without a port must be the last one")
			default:
				catchAll = i
			}
		} else {
			checkEgressPort(s, p, eg, ports, sockets, i)
		}
		if len(eg.Hosts) == 0 {
			s.fail(p+".hosts", "an egress listener must contain at least one host")
		}
	}
	if tp := sc.OutboundTrafficPolicy; tp != nil && tp.EgressProxy != nil {
		switch {
		case tp.Mode != "ALLOW_ANY":
			s.fail("spec.outboundTrafficPolicy.egressProxy", "is allowed only with mode ALLOW_ANY")
		case tp.EgressProxy.Port == nil:
			s.fail("spec.outboundTrafficPolicy.egressProxy.port", "an egress proxy needs a port")
		}
	}
}

func checkEgressPort(s *docState, p string, eg *IstioEgressListener, ports map[uint32]int, sockets map[string]int, i int) {
	if eg.Port.TargetPort != 0 {
		s.fail(p+".port.targetPort", "has no effect on a Sidecar; remove it")
	}
	if eg.Port.Number == 0 {
		rest, unix := strings.CutPrefix(eg.Bind, "unix://")
		if !unix {
			s.fail(p+".bind", "a listener on port 0 needs a unix:// bind address")
			return
		}
		checkUnixPath(s, p+".bind", rest)
		if eg.CaptureMode != "" && eg.CaptureMode != "DEFAULT" && eg.CaptureMode != "NONE" {
			s.fail(p+".captureMode", "must be DEFAULT or NONE for a unix domain socket listener")
		}
		if j, ok := sockets[eg.Bind]; ok {
			s.failf(p+".bind", "unix domain socket %q is already bound by spec.egress[%d]", eg.Bind, j)
		} else {
			sockets[eg.Bind] = i
		}
		return
	}
	if eg.Bind != "" && !isIP(eg.Bind) {
		s.failf(p+".bind", "must be an IP address, got %q", eg.Bind)
	}
	if j, ok := ports[eg.Port.Number]; ok {
		s.failf(p+".port.number", "port %d is already the port of spec.egress[%d]: ports on IP bound listeners must be unique", eg.Port.Number, j)
	} else {
		ports[eg.Port.Number] = i
	}
}
