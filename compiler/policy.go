package compiler

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// Istio's defaults for what a DestinationRule leaves unset.
const (
	// defaultRingSize is Istio's minimum ring size for ring-hash clusters.
	defaultRingSize = 1024
	// unlimited is Istio's circuit-breaker threshold for a limit nobody set.
	unlimited = math.MaxUint32
)

// policyPart is one field of a traffic policy with the path it was written at, so a problem
// with the merged policy is reported where the user wrote it.
type policyPart[T any] struct {
	v    *T
	path string
	// doc is the rule the part was written in: merged rules give a cluster parts of several.
	doc *schema.Document
}

// effectivePolicy is Istio's MergeTrafficPolicy for one cluster: the top-level policy, replaced
// field by field by the subset's, then by the port-level settings for this port (which replace
// all four fields, set or not, as Istio documents).
type effectivePolicy struct {
	lb      policyPart[schema.LoadBalancerSettings]
	pool    policyPart[schema.ConnectionPoolSettings]
	outlier policyPart[schema.OutlierDetection]
	tls     policyPart[schema.ClientTLSSettings]
}

func (e *effectivePolicy) apply(d *schema.Document, tp *schema.TrafficPolicy, path string, port uint32) {
	if tp == nil {
		return
	}
	if tp.LoadBalancer != nil {
		e.lb = policyPart[schema.LoadBalancerSettings]{tp.LoadBalancer, path + ".loadBalancer", d}
	}
	if tp.ConnectionPool != nil {
		e.pool = policyPart[schema.ConnectionPoolSettings]{tp.ConnectionPool, path + ".connectionPool", d}
	}
	if tp.OutlierDetection != nil {
		e.outlier = policyPart[schema.OutlierDetection]{tp.OutlierDetection, path + ".outlierDetection", d}
	}
	if tp.TLS != nil {
		e.tls = policyPart[schema.ClientTLSSettings]{tp.TLS, path + ".tls", d}
	}
	for i, pl := range tp.PortLevelSettings {
		if pl.Port == nil || pl.Port.Number != port {
			continue
		}
		pp := fmt.Sprintf("%s.portLevelSettings[%d]", path, i)
		e.lb = policyPart[schema.LoadBalancerSettings]{pl.LoadBalancer, pp + ".loadBalancer", d}
		e.pool = policyPart[schema.ConnectionPoolSettings]{pl.ConnectionPool, pp + ".connectionPool", d}
		e.outlier = policyPart[schema.OutlierDetection]{pl.OutlierDetection, pp + ".outlierDetection", d}
		e.tls = policyPart[schema.ClientTLSSettings]{pl.TLS, pp + ".tls", d}
		break
	}
}

// clusterPolicy resolves and translates the traffic policy of one cluster; each part is
// reported in the rule it came from.
func (b *builder) clusterPolicy(svc *service, rule *destRule, port uint32, subset *ruleSubset) *ir.Policy {
	// Istio gives every cluster its connection pool: Envoy's default limits lifted when the
	// DestinationRule sets none.
	p := &ir.Policy{Limits: &ir.Limits{MaxConnections: unlimited, MaxPendingRequests: unlimited, MaxRequests: unlimited, MaxRetries: unlimited}}
	if rule == nil {
		return p
	}
	var e effectivePolicy
	e.apply(rule.policyDoc, rule.policy, "spec.trafficPolicy", port)
	var sub *schema.Subset
	if subset != nil {
		e.apply(subset.doc, subset.TrafficPolicy, subset.path()+".trafficPolicy", port)
		sub = subset.Subset
	}
	b.loadBalancer(e.lb.doc, e.lb, p)
	b.connectionPool(e.pool.doc, e.pool, p)
	b.outlierDetection(e.outlier.doc, e.outlier, p)
	b.clientTLS(e.tls.doc, e.tls, svc, port, sub, p)
	var locality *schema.LocalityLoadBalancerSetting
	if e.lb.v != nil {
		locality = e.lb.v.LocalityLbSetting
	}
	p.Locality = localityLB(cmp.Or(locality, b.tree.Settings.LocalityLbSetting), p.Outlier != nil)
	if locality != nil && p.Locality == nil && (len(locality.Failover) > 0 || len(locality.FailoverPriority) > 0) &&
		(locality.Enabled == nil || *locality.Enabled) {
		b.warnf(e.lb.doc, e.lb.path+".localityLbSetting", "failover takes effect only with outlierDetection: without it no endpoint is ever ejected, so traffic never leaves the best priority (Istio warns the same)")
	}
	return p
}

func (b *builder) loadBalancer(d *schema.Document, part policyPart[schema.LoadBalancerSettings], p *ir.Policy) {
	lb := part.v
	if lb == nil {
		return
	}
	switch lb.Simple {
	case "", "UNSPECIFIED":
	case "ROUND_ROBIN":
		p.LB = ir.LBRoundRobin
	case "LEAST_REQUEST", "LEAST_CONN":
		p.LB = ir.LBLeastRequest
	case "RANDOM":
		p.LB = ir.LBRandom
	case "PASSTHROUGH":
		b.unsupportedf(d, part.path+".simple", "PASSTHROUGH needs the original destination, which a signalbox proxy never sees")
	default:
		b.errorf(d, part.path+".simple", "unknown load balancer %q", lb.Simple)
	}
	if ch := lb.ConsistentHash; ch != nil {
		hp := ir.HashPolicy{}
		switch {
		case ch.HTTPHeaderName != "":
			hp.Header = ch.HTTPHeaderName
		case ch.HTTPCookie != nil:
			hp.Cookie = &ir.HashCookie{Name: ch.HTTPCookie.Name, Path: ch.HTTPCookie.Path}
			if ch.HTTPCookie.TTL != "" {
				hp.Cookie.TTL = b.duration(d, part.path+".consistentHash.httpCookie.ttl", ch.HTTPCookie.TTL)
			}
			if len(ch.HTTPCookie.Attributes) > 0 {
				b.unsupported(d, part.path+".consistentHash.httpCookie.attributes")
			}
		case ch.UseSourceIP:
			hp.SourceIP = true
		case ch.HTTPQueryParameterName != "":
			hp.QueryParam = ch.HTTPQueryParameterName
		default:
			b.errorf(d, part.path+".consistentHash", "a consistent hash needs httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName")
			return
		}
		p.Hash = []ir.HashPolicy{hp}
		if ch.Maglev != nil {
			p.LB, p.MaglevTableSize = ir.LBMaglev, ch.Maglev.TableSize
		} else {
			p.LB, p.RingMinSize = ir.LBRingHash, defaultRingSize
			if ch.MinimumRingSize > 0 {
				p.RingMinSize = ch.MinimumRingSize
			}
			if ch.RingHash != nil && ch.RingHash.MinimumRingSize > 0 {
				p.RingMinSize = ch.RingHash.MinimumRingSize
			}
		}
	}
	if lb.WarmupDurationSecs != "" {
		b.unsupported(d, part.path+".warmupDurationSecs")
	}
	if lb.Warmup != nil {
		b.unsupported(d, part.path+".warmup")
	}
}

// connectionPool is Istio's applyConnectionPool: limits nobody set stay unlimited.
func (b *builder) connectionPool(d *schema.Document, part policyPart[schema.ConnectionPoolSettings], p *ir.Policy) {
	cp := part.v
	if cp == nil {
		return
	}
	l := p.Limits
	if h := cp.HTTP; h != nil {
		hp := part.path + ".http"
		if h.HTTP2MaxRequests > 0 {
			l.MaxRequests = uint32(h.HTTP2MaxRequests)
		}
		if h.HTTP1MaxPendingRequests > 0 {
			l.MaxPendingRequests = uint32(h.HTTP1MaxPendingRequests)
		}
		if h.MaxRetries > 0 {
			l.MaxRetries = uint32(h.MaxRetries)
		}
		if h.IdleTimeout != "" {
			p.IdleTimeout = b.duration(d, hp+".idleTimeout", h.IdleTimeout)
		}
		if h.MaxRequestsPerConnection > 0 {
			p.MaxRequestsPerConnection = uint32(h.MaxRequestsPerConnection)
		}
		if h.H2UpgradePolicy == "UPGRADE" {
			b.unsupported(d, hp+".h2UpgradePolicy")
		}
		if h.UseClientProtocol {
			b.unsupported(d, hp+".useClientProtocol")
		}
		if h.MaxConcurrentStreams > 0 {
			b.unsupported(d, hp+".maxConcurrentStreams")
		}
	}
	if t := cp.TCP; t != nil {
		tp := part.path + ".tcp"
		if t.MaxConnections > 0 {
			l.MaxConnections = uint32(t.MaxConnections)
		}
		if t.ConnectTimeout != "" {
			p.ConnectTimeout = b.duration(d, tp+".connectTimeout", t.ConnectTimeout)
		}
		if k := t.TCPKeepalive; k != nil {
			p.Keepalive = &ir.Keepalive{Probes: k.Probes}
			if k.Time != "" {
				p.Keepalive.Time = b.duration(d, tp+".tcpKeepalive.time", k.Time)
			}
			if k.Interval != "" {
				p.Keepalive.Interval = b.duration(d, tp+".tcpKeepalive.interval", k.Interval)
			}
		}
		if t.MaxConnectionDuration != "" {
			b.unsupported(d, tp+".maxConnectionDuration")
		}
		// Istio's cluster idle timeout is the http one, else the tcp one (which also bounds the
		// idle connections of a gateway's TCP listener: tcpProxy).
		if t.IdleTimeout != "" && (cp.HTTP == nil || cp.HTTP.IdleTimeout == "") {
			p.IdleTimeout = b.duration(d, tp+".idleTimeout", t.IdleTimeout)
		}
	}
}

// outlierDetection is Istio's applyOutlierDetection: the deprecated consecutiveErrors counts
// gateway errors only; a configured detector always enforces; the panic threshold is set.
func (b *builder) outlierDetection(d *schema.Document, part policyPart[schema.OutlierDetection], p *ir.Policy) {
	od := part.v
	if od == nil {
		return
	}
	o := &ir.Outlier{MaxEjectionPercent: uint32(max(od.MaxEjectionPercent, 0)), MinHealthPercent: float64(max(od.MinHealthPercent, 0))}
	if od.ConsecutiveErrors > 0 {
		n, zero := uint32(od.ConsecutiveErrors), uint32(0)
		o.ConsecutiveGateway, o.Consecutive5xx = &n, &zero
	}
	if od.Consecutive5xxErrors != nil {
		n := *od.Consecutive5xxErrors
		o.Consecutive5xx = &n
	}
	if od.ConsecutiveGatewayErrors != nil {
		n := *od.ConsecutiveGatewayErrors
		o.ConsecutiveGateway = &n
	}
	if od.Interval != "" {
		o.Interval = b.duration(d, part.path+".interval", od.Interval)
	}
	if od.BaseEjectionTime != "" {
		o.BaseEjectionTime = b.duration(d, part.path+".baseEjectionTime", od.BaseEjectionTime)
	}
	if od.ConsecutiveLocalOriginFailures != nil {
		b.unsupported(d, part.path+".consecutiveLocalOriginFailures")
	}
	if od.SplitExternalLocalOriginErrors {
		b.unsupported(d, part.path+".splitExternalLocalOriginErrors")
	}
	p.Outlier = o
}

// clientTLS originates TLS with certificates from files (SIMPLE: verify the server; MUTUAL:
// also present a client certificate) to the service host; ISTIO_MUTUAL with the mesh's
// certificates (istioMutualTLS).
func (b *builder) clientTLS(d *schema.Document, part policyPart[schema.ClientTLSSettings], svc *service, port uint32, subset *schema.Subset, p *ir.Policy) {
	t := part.v
	if t == nil {
		return
	}
	switch t.Mode {
	case "", "DISABLE":
		return
	case "SIMPLE", "MUTUAL":
	case "ISTIO_MUTUAL":
		p.TLS = b.istioMutualTLS(d, part, svc, port, subset)
		return
	default:
		b.errorf(d, part.path+".mode", "unknown TLS mode %q", t.Mode)
		return
	}
	out := &ir.TLS{CACertificates: t.CACertificates, SNI: t.SNI, SubjectAltNames: t.SubjectAltNames}
	out.InsecureSkipVerify = t.InsecureSkipVerify != nil && *t.InsecureSkipVerify
	if out.CACertificates == "" && !out.InsecureSkipVerify {
		b.systemRootsTLS(d, part.path, svc.host, out)
	}
	if t.Mode == "MUTUAL" {
		if t.ClientCertificate == "" || t.PrivateKey == "" {
			b.errorf(d, part.path, "mode MUTUAL needs clientCertificate and privateKey")
		}
		out.ClientCertificate, out.PrivateKey = t.ClientCertificate, t.PrivateKey
	}
	if t.CredentialName != "" {
		b.unsupportedf(d, part.path+".credentialName", "certificates come from files: clientCertificate, privateKey, caCertificates")
	}
	if t.CACrl != "" {
		b.unsupported(d, part.path+".caCrl")
	}
	p.TLS = out
}

// istioMutualTLS is Istio's ISTIO_MUTUAL upstream TLS (cluster_tls.go), with the mesh's
// certificates from the files signalbox.yaml's meshCertificates names where Istio's proxies
// get theirs from its certificate authority over SDS: that chain and key presented, the server
// verified against that CA and its identity; SNI Istio's outbound_.PORT_.SUBSET_.HOST unless
// the rule gives sni; TLS 1.2 to 1.3; ALPN istio-peer-exchange and istio (and h2 for an
// HTTP/2 port), which Istio's inbound listeners choose their mTLS filter chains by. The
// identities are the rule's subjectAltNames, or else the service's: its ServiceEntry's
// subjectAltNames and the SPIFFE identity of each endpoint's serviceAccount, sorted (Istio's
// PushContext.ServiceAccounts), for every subset alike.
func (b *builder) istioMutualTLS(d *schema.Document, part policyPart[schema.ClientTLSSettings], svc *service, port uint32, subset *schema.Subset) *ir.TLS {
	t := part.v
	mc := b.tree.Settings.MeshCertificates
	if mc == nil {
		b.unsupportedf(d, part.path+".mode", "ISTIO_MUTUAL needs the mesh's certificates, which Istio's certificate authority issues: "+
			"set meshCertificates (certificateChain, privateKey, caCertificates: files on the proxies' machines) in signalbox.yaml")
		return nil
	}
	// Istio's validation accepts these with ISTIO_MUTUAL and its translation ignores them.
	for _, f := range []struct {
		name string
		set  bool
	}{{"clientCertificate", t.ClientCertificate != ""}, {"privateKey", t.PrivateKey != ""}, {"caCertificates", t.CACertificates != ""},
		{"credentialName", t.CredentialName != ""}, {"insecureSkipVerify", t.InsecureSkipVerify != nil}, {"caCrl", t.CACrl != ""}} {
		if f.set {
			b.warnf(d, part.path+"."+f.name, "ignored with mode ISTIO_MUTUAL, as Istio ignores it: the mesh's certificates (meshCertificates in signalbox.yaml) are used")
		}
	}
	subsetName := ""
	if subset != nil {
		subsetName = subset.Name
	}
	out := &ir.TLS{
		ClientCertificate: mc.CertificateChain,
		PrivateKey:        mc.PrivateKey,
		CACertificates:    mc.CACertificates,
		SNI:               cmp.Or(t.SNI, fmt.Sprintf("outbound_.%d_.%s_.%s", port, subsetName, svc.host)),
		SubjectAltNames:   t.SubjectAltNames,
		ALPN:              []string{"istio-peer-exchange", "istio"},
		MinVersion:        "TLSV1_2",
		MaxVersion:        "TLSV1_3",
	}
	if sp, ok := svc.port(port); ok && (sp.Protocol == "GRPC" || sp.Protocol == "HTTP2") {
		out.ALPN = append(out.ALPN, "h2")
	}
	if len(t.SubjectAltNames) == 0 {
		out.SubjectAltNames = b.serviceIdentities(svc)
	}
	return out
}

// serviceIdentities are the identities Istio expects a service's endpoints to present: its
// ServiceEntry's subjectAltNames and spiffe://TRUSTDOMAIN/ns/NAMESPACE/sa/ACCOUNT for each
// endpoint's serviceAccount (inline endpoints and selected WorkloadEntries are in the
// ServiceEntry's namespace), deduplicated and sorted.
func (b *builder) serviceIdentities(svc *service) []string {
	ids := slices.Clone(svc.entry.SubjectAltNames)
	td := cmp.Or(b.tree.Settings.TrustDomain, schema.DefaultTrustDomain)
	for _, ep := range svc.endpoints {
		if ep.ServiceAccount != "" {
			ids = append(ids, "spiffe://"+td+"/ns/"+svc.doc.Namespace+"/sa/"+ep.ServiceAccount)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// systemRootsTLS verifies the server against the proxy machine's trusted roots, as Istio does
// when no caCertificates is given. A public CA vouches for whoever owns a name, so the name is
// what must be checked: without sni the host is sent (Istio's auto_sni sends the request's
// host, which for one cluster is this one) and without subjectAltNames the certificate must
// name the server asked for (Istio's auto_san_validation), or any publicly trusted
// certificate would pass.
func (b *builder) systemRootsTLS(d *schema.Document, path, host string, out *ir.TLS) {
	out.SystemRoots = true
	if out.SNI == "" {
		if strings.HasPrefix(host, "*") {
			b.errorf(d, path+".sni", "verifying against the system's trusted roots needs the server's name: give sni for the wildcard host %q", host)
			return
		}
		out.SNI = host
	}
	if len(out.SubjectAltNames) == 0 {
		out.SubjectAltNames = []string{out.SNI}
	}
}

// checkRule reports what a DestinationRule asks that signalbox cannot do (the parts of its
// policies are checked as clusters are built).
func (b *builder) checkRule(d *schema.Document, dr *schema.DestinationRule) {
	if dr.WorkloadSelector != nil {
		b.unsupported(d, "spec.workloadSelector")
	}
	check := func(tp *schema.TrafficPolicy, path string) {
		if tp == nil {
			return
		}
		if tp.Tunnel != nil {
			b.unsupported(d, path+".tunnel")
		}
		if tp.ProxyProtocol != nil {
			b.unsupported(d, path+".proxyProtocol")
		}
		if tp.RetryBudget != nil {
			b.unsupported(d, path+".retryBudget")
		}
	}
	check(dr.TrafficPolicy, "spec.trafficPolicy")
	for i, s := range dr.Subsets {
		check(s.TrafficPolicy, fmt.Sprintf("spec.subsets[%d].trafficPolicy", i))
	}
}
