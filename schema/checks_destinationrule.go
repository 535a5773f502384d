package schema

import (
	"math"
	"strconv"
	"strings"
)

func checkDestinationRule(s *docState, dr *DestinationRule) {
	checkTrafficPolicy(s, "spec.trafficPolicy", dr.TrafficPolicy)
	unique(s, "spec.subsets", "subset name", len(dr.Subsets), func(i int) (string, string) {
		return "name", dr.Subsets[i].Name
	})
	for i := range dr.Subsets {
		p := idx("spec.subsets", i)
		checkLabels(s, p+".labels", dr.Subsets[i].Labels)
		checkTrafficPolicy(s, p+".trafficPolicy", dr.Subsets[i].TrafficPolicy)
	}
	checkExportTo(s, "spec.exportTo", dr.ExportTo, false)
	if ws := dr.WorkloadSelector; ws != nil {
		checkSelector(s, "spec.workloadSelector.matchLabels", ws.MatchLabels)
		for i, e := range dr.ExportTo {
			if e != "." && e != s.doc.Namespace {
				s.fail(idx("spec.exportTo", i), "a DestinationRule with a workloadSelector can only be exported to its own namespace")
			}
		}
	}
}

func checkTrafficPolicy(s *docState, p string, tp *TrafficPolicy) {
	if tp == nil {
		return
	}
	if tp.LoadBalancer == nil && tp.ConnectionPool == nil && tp.OutlierDetection == nil && tp.TLS == nil &&
		len(tp.PortLevelSettings) == 0 && !s.has(p+".portLevelSettings") && tp.Tunnel == nil && tp.ProxyProtocol == nil && tp.RetryBudget == nil {
		s.fail(p, "a traffic policy needs at least one field")
		return
	}
	if tp.Tunnel != nil && tp.ProxyProtocol != nil {
		s.fail(p+".proxyProtocol", "tunnel and proxyProtocol cannot be set together")
	}
	if t := tp.Tunnel; t != nil && !isFQDN(t.TargetHost) && !isIP(t.TargetHost) {
		s.failf(p+".tunnel.targetHost", "must be a DNS name or an IP address, got %q", t.TargetHost)
	}
	checkPortPolicy(s, p, tp.LoadBalancer, tp.ConnectionPool, tp.OutlierDetection, tp.TLS)
	seen := map[uint32]int{}
	for i, pl := range tp.PortLevelSettings {
		pp := idx(p+".portLevelSettings", i)
		if pl.Port == nil || pl.Port.Number == 0 {
			s.fail(pp+".port", "a port-level policy needs port.number")
		} else if j, ok := seen[pl.Port.Number]; ok {
			s.failf(pp+".port.number", "duplicate port %d, first at %s[%d]", pl.Port.Number, p+".portLevelSettings", j)
		} else {
			seen[pl.Port.Number] = i
		}
		if pl.LoadBalancer == nil && pl.ConnectionPool == nil && pl.OutlierDetection == nil && pl.TLS == nil {
			s.fail(pp, "a port-level policy needs at least one of loadBalancer, connectionPool, outlierDetection or tls")
			continue
		}
		checkPortPolicy(s, pp, pl.LoadBalancer, pl.ConnectionPool, pl.OutlierDetection, pl.TLS)
	}
}

func checkPortPolicy(s *docState, p string, lb *LoadBalancerSettings, cp *ConnectionPoolSettings, od *OutlierDetection, tls *ClientTLSSettings) {
	if od != nil {
		op := p + ".outlierDetection"
		checkDuration(s, op+".interval", od.Interval)
		checkDuration(s, op+".baseEjectionTime", od.BaseEjectionTime)
		if !od.SplitExternalLocalOriginErrors && od.ConsecutiveLocalOriginFailures != nil && *od.ConsecutiveLocalOriginFailures > 0 {
			s.fail(op+".consecutiveLocalOriginFailures", "needs splitExternalLocalOriginErrors: true")
		}
	}
	if cp != nil {
		cpp := p + ".connectionPool"
		if cp.TCP == nil && cp.HTTP == nil {
			s.fail(cpp, "a connection pool needs tcp, http or both")
		}
		if h := cp.HTTP; h != nil {
			checkDuration(s, cpp+".http.idleTimeout", h.IdleTimeout)
			if h.H2UpgradePolicy == "UPGRADE" && h.UseClientProtocol {
				s.fail(cpp+".http.useClientProtocol", "cannot be true when h2UpgradePolicy is UPGRADE")
			}
			if k := h.HTTP2KeepAlive; k != nil {
				checkDuration(s, cpp+".http.http2KeepAlive.interval", k.Interval)
				checkDuration(s, cpp+".http.http2KeepAlive.timeout", k.Timeout)
			}
		}
		if t := cp.TCP; t != nil {
			tp := cpp + ".tcp"
			checkDuration(s, tp+".connectTimeout", t.ConnectTimeout)
			checkDuration(s, tp+".maxConnectionDuration", t.MaxConnectionDuration)
			if d, err := ParseDuration(t.IdleTimeout); err != nil || d != 0 {
				checkDuration(s, tp+".idleTimeout", t.IdleTimeout) // 0s disables it
			}
			if k := t.TCPKeepalive; k != nil {
				checkDuration(s, tp+".tcpKeepalive.time", k.Time)
				checkDuration(s, tp+".tcpKeepalive.interval", k.Interval)
			}
		}
	}
	checkLoadBalancer(s, p+".loadBalancer", lb)
	if tls != nil {
		tp := p + ".tls"
		switch {
		case (tls.Mode == "SIMPLE" || tls.Mode == "MUTUAL") && tls.CredentialName != "":
			if tls.ClientCertificate != "" || tls.PrivateKey != "" || tls.CACertificates != "" || tls.CACrl != "" {
				s.fail(tp+".credentialName", "cannot be set together with clientCertificate, privateKey, caCertificates or caCrl")
			}
		case tls.Mode == "MUTUAL":
			if tls.ClientCertificate == "" {
				s.fail(tp+".clientCertificate", "is required with mode MUTUAL (unless credentialName is set)")
			}
			if tls.PrivateKey == "" {
				s.fail(tp+".privateKey", "is required with mode MUTUAL (unless credentialName is set)")
			}
		}
	}
}

func checkLoadBalancer(s *docState, p string, lb *LoadBalancerSettings) {
	if lb == nil {
		return
	}
	if lb.Simple != "" && lb.ConsistentHash != nil {
		s.fail(p, "must set one of simple or consistentHash, not both")
	}
	if ch := lb.ConsistentHash; ch != nil {
		cp := p + ".consistentHash"
		n := 0
		for _, f := range []string{"httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName"} {
			if s.has(cp + "." + f) {
				n++
			}
		}
		if n != 1 {
			s.fail(cp, "must set exactly one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName")
		}
		if ch.RingHash != nil && ch.Maglev != nil {
			s.fail(cp, "must set one of ringHash or maglev, not both")
		}
		if ch.MinimumRingSize != 0 && (ch.RingHash != nil || ch.Maglev != nil) {
			s.fail(cp+".minimumRingSize", "cannot be set together with ringHash or maglev (it is the deprecated form of ringHash.minimumRingSize)")
		}
		if m := ch.Maglev; m != nil {
			switch {
			case m.TableSize == 0:
				s.fail(cp+".maglev.tableSize", "is required for maglev")
			case m.TableSize >= 5000011:
				s.fail(cp+".maglev.tableSize", "must be less than 5000011")
			case !isPrime(m.TableSize):
				s.failf(cp+".maglev.tableSize", "must be a prime number, got %d", m.TableSize)
			}
		}
	}
	if l := lb.LocalityLbSetting; l != nil {
		checkLocality(s, p+".localityLbSetting", l)
	}
	checkDuration(s, p+".warmupDurationSecs", lb.WarmupDurationSecs)
	if w := lb.Warmup; w != nil {
		checkDuration(s, p+".warmup.duration", w.Duration)
	}
	if lb.WarmupDurationSecs != "" && lb.Warmup != nil {
		s.fail(p+".warmup", "cannot be set together with warmupDurationSecs (its deprecated form)")
	}
}

// isPrime is the primality test Envoy applies to Maglev table sizes.
func isPrime(x uint64) bool {
	if x != 0 && x < 4 {
		return true
	}
	if x&1 == 0 {
		return false
	}
	limit := uint64(math.Sqrt(float64(x)))
	for f := uint64(3); f <= limit; f += 2 {
		if x%f == 0 {
			return false
		}
	}
	return true
}

// checkLocality applies Istio's locality load-balancing rules: distribute or failover, not
// both; each distribute's weights total 100; failover between different regions.
func checkLocality(s *docState, p string, l *LocalityLoadBalancerSetting) {
	if len(l.Distribute) > 0 && len(l.Failover) > 0 {
		s.fail(p, "must set one of distribute or failover, not both")
	}
	for i, d := range l.Distribute {
		dp := idx(p+".distribute", i)
		if d.From == "" {
			s.fail(dp+".from", "is required")
		} else if reason := localityProblem(d.From); reason != "" {
			s.fail(dp+".from", reason)
		}
		total := uint64(0)
		for loc, w := range d.To {
			if reason := localityProblem(loc); reason != "" {
				s.fail(key(dp+".to", loc), reason)
			}
			if w < 1 || w > 100 {
				s.failf(key(dp+".to", loc), "a locality weight is from 1 to 100, got %d", w)
			}
			total += uint64(w)
		}
		if total != 100 {
			s.failf(dp+".to", "weights must total 100, got %d", total)
		}
	}
	for i, f := range l.Failover {
		fp := idx(p+".failover", i)
		switch {
		case f.From == "" || f.To == "":
			s.fail(fp, "needs from and to")
		case f.From == f.To:
			s.fail(fp+".to", "must differ from from")
		case strings.Contains(f.From, "/") || strings.Contains(f.To, "/"):
			s.fail(fp, "failover is between regions: from and to are region names, without '/'")
		case strings.Contains(f.From, "*") || strings.Contains(f.To, "*"):
			s.fail(fp, "failover regions cannot contain the '*' wildcard")
		}
	}
}

// localityProblem checks a locality "region/zone/subzone", where "*" stands for any value but
// only as the last part.
func localityProblem(loc string) string {
	parts := strings.Split(loc, "/")
	if len(parts) > 3 {
		return "a locality is region/zone/subzone, got " + strconv.Quote(loc)
	}
	for i, part := range parts {
		if part == "" {
			return "a locality has no empty parts, got " + strconv.Quote(loc)
		}
		if strings.Contains(part, "*") && (part != "*" || i != len(parts)-1) {
			return "\"*\" is only allowed as the last part of a locality, got " + strconv.Quote(loc)
		}
	}
	return ""
}
