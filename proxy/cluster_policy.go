package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
)

// thresholds are a cluster's circuit breakers at the default priority. Unset ones take
// Envoy's defaults, so a cluster always has breakers, as in Envoy.
type thresholds struct {
	maxConnections, maxPending, maxRequests, maxRetries int64
}

var defaultThresholds = thresholds{maxConnections: 1024, maxPending: 1024, maxRequests: 1024, maxRetries: 3}

func decodeCircuitBreakers(p fieldPath, cb *clusterv3.CircuitBreakers) (thresholds, error) {
	t := defaultThresholds
	if cb == nil {
		return t, nil
	}
	if err := onlyFields(p, cb, "thresholds"); err != nil {
		return t, err
	}
	for i, th := range cb.GetThresholds() {
		tp := p.field("thresholds").index(i)
		if err := onlyFields(tp, th, "priority", "max_connections", "max_pending_requests", "max_requests", "max_retries", "track_remaining"); err != nil {
			return t, err
		}
		if th.GetPriority() != core.RoutingPriority_DEFAULT {
			continue // HIGH priority routes are not emitted: no route asks for them
		}
		if v := th.GetMaxConnections(); v != nil {
			t.maxConnections = int64(v.GetValue())
		}
		if v := th.GetMaxPendingRequests(); v != nil {
			t.maxPending = int64(v.GetValue())
		}
		if v := th.GetMaxRequests(); v != nil {
			t.maxRequests = int64(v.GetValue())
		}
		if v := th.GetMaxRetries(); v != nil {
			t.maxRetries = int64(v.GetValue())
		}
	}
	return t, nil
}

// outlierConfig is an OutlierDetection with Envoy's defaults filled in.
type outlierConfig struct {
	consecutive5xx, consecutiveGateway  uint32
	enforce5xx, enforceGateway          uint32 // percent
	interval, baseEjection, maxEjection time.Duration
	maxEjectionPercent                  uint32
}

func decodeOutlierDetection(p fieldPath, od *clusterv3.OutlierDetection) (*outlierConfig, error) {
	if od == nil {
		return nil, nil
	}
	if err := onlyFields(p, od, "consecutive_5xx", "interval", "base_ejection_time", "max_ejection_percent", "enforcing_consecutive_5xx",
		"enforcing_success_rate", "consecutive_gateway_failure", "enforcing_consecutive_gateway_failure", "max_ejection_time",
		"split_external_local_origin_errors"); err != nil {
		return nil, err
	}
	if od.GetSplitExternalLocalOriginErrors() {
		return nil, p.field("split_external_local_origin_errors").errorf("true is not supported")
	}
	if v := od.GetEnforcingSuccessRate(); v != nil && v.GetValue() != 0 {
		return nil, p.field("enforcing_success_rate").errorf("success-rate ejection is not supported; set it to 0")
	}
	oc := &outlierConfig{consecutive5xx: 5, consecutiveGateway: 5, enforce5xx: 100, enforceGateway: 0,
		interval: 10 * time.Second, baseEjection: 30 * time.Second, maxEjection: 300 * time.Second, maxEjectionPercent: 10}
	u32 := func(v interface{ GetValue() uint32 }, dst *uint32, ok bool) {
		if ok {
			*dst = v.GetValue()
		}
	}
	u32(od.GetConsecutive_5Xx(), &oc.consecutive5xx, od.Consecutive_5Xx != nil)
	u32(od.GetConsecutiveGatewayFailure(), &oc.consecutiveGateway, od.ConsecutiveGatewayFailure != nil)
	u32(od.GetEnforcingConsecutive_5Xx(), &oc.enforce5xx, od.EnforcingConsecutive_5Xx != nil)
	u32(od.GetEnforcingConsecutiveGatewayFailure(), &oc.enforceGateway, od.EnforcingConsecutiveGatewayFailure != nil)
	u32(od.GetMaxEjectionPercent(), &oc.maxEjectionPercent, od.MaxEjectionPercent != nil)
	if d := od.GetInterval(); d != nil {
		oc.interval = d.AsDuration()
	}
	if d := od.GetBaseEjectionTime(); d != nil {
		oc.baseEjection = d.AsDuration()
	}
	if d := od.GetMaxEjectionTime(); d != nil {
		oc.maxEjection = d.AsDuration()
	}
	oc.maxEjection = max(oc.maxEjection, oc.baseEjection)
	return oc, nil
}

// decodeCommonLbConfig returns the healthy panic threshold in percent (Envoy's default 50).
func decodeCommonLbConfig(p fieldPath, c *clusterv3.Cluster_CommonLbConfig) (float64, error) {
	if c == nil {
		return 50, nil
	}
	if err := onlyFields(p, c, "healthy_panic_threshold", "locality_weighted_lb_config"); err != nil {
		return 0, err
	}
	if hp := c.GetHealthyPanicThreshold(); hp != nil {
		return hp.GetValue(), nil
	}
	return 50, nil
}

// tcpKeepalive is the upstream sockets' keep-alive settings.
func decodeUpstreamConnectionOptions(p fieldPath, o *clusterv3.UpstreamConnectionOptions) (*net.KeepAliveConfig, error) {
	if o == nil {
		return nil, nil
	}
	if err := onlyFields(p, o, "tcp_keepalive"); err != nil {
		return nil, err
	}
	ka := o.GetTcpKeepalive()
	if ka == nil {
		return nil, nil
	}
	if err := onlyFields(p.field("tcp_keepalive"), ka, "keepalive_probes", "keepalive_time", "keepalive_interval"); err != nil {
		return nil, err
	}
	kc := &net.KeepAliveConfig{Enable: true, Idle: -1, Interval: -1, Count: -1} // -1: the OS default
	if v := ka.GetKeepaliveTime(); v != nil {
		kc.Idle = time.Duration(v.GetValue()) * time.Second
	}
	if v := ka.GetKeepaliveInterval(); v != nil {
		kc.Interval = time.Duration(v.GetValue()) * time.Second
	}
	if v := ka.GetKeepaliveProbes(); v != nil {
		kc.Count = int(v.GetValue())
	}
	return kc, nil
}

const tlsTransportSocketName = "envoy.transport_sockets.tls"

// decodeTransportSocket builds the client TLS configuration of an UpstreamTlsContext.
func decodeTransportSocket(p fieldPath, ts *core.TransportSocket) (*tls.Config, error) {
	if ts == nil {
		return nil, nil
	}
	if err := onlyFields(p, ts, "name", "typed_config"); err != nil {
		return nil, err
	}
	var u tlsv3.UpstreamTlsContext
	tc := ts.GetTypedConfig()
	if tc.GetTypeUrl() != typeURLOf(&u) {
		return nil, p.field("typed_config").errorf("type %q is not supported: only %s (%s) is", tc.GetTypeUrl(), typeURLOf(&u), tlsTransportSocketName)
	}
	p = p.field("typed_config")
	if err := tc.UnmarshalTo(&u); err != nil {
		return nil, p.errorf("%v", err)
	}
	if err := validateAll(p, &u); err != nil {
		return nil, err
	}
	if err := onlyFields(p, &u, "common_tls_context", "sni"); err != nil {
		return nil, err
	}
	cfg := &tls.Config{ServerName: u.GetSni(), MinVersion: tls.VersionTLS12}
	ctx := u.GetCommonTlsContext()
	cp := p.field("common_tls_context")
	if err := onlyFields(cp, ctx, "tls_params", "tls_certificates", "validation_context", "combined_validation_context", "alpn_protocols"); err != nil {
		return nil, err
	}
	if tp := ctx.GetTlsParams(); tp != nil {
		pp := cp.field("tls_params")
		if err := onlyFields(pp, tp, "tls_minimum_protocol_version", "tls_maximum_protocol_version"); err != nil {
			return nil, err
		}
		versions := map[tlsv3.TlsParameters_TlsProtocol]uint16{
			tlsv3.TlsParameters_TLSv1_0: tls.VersionTLS10, tlsv3.TlsParameters_TLSv1_1: tls.VersionTLS11,
			tlsv3.TlsParameters_TLSv1_2: tls.VersionTLS12, tlsv3.TlsParameters_TLSv1_3: tls.VersionTLS13,
		}
		if v, ok := versions[tp.GetTlsMinimumProtocolVersion()]; ok {
			cfg.MinVersion = v
		}
		if v, ok := versions[tp.GetTlsMaximumProtocolVersion()]; ok {
			cfg.MaxVersion = v
		}
	}
	// ALPN is left to the transport: the cluster's protocol options decide HTTP/1.1 or h2.
	for i, c := range ctx.GetTlsCertificates() {
		tp := cp.field("tls_certificates").index(i)
		if err := onlyFields(tp, c, "certificate_chain", "private_key"); err != nil {
			return nil, err
		}
		chain, err := dataSource(tp.field("certificate_chain"), c.GetCertificateChain())
		if err != nil {
			return nil, err
		}
		key, err := dataSource(tp.field("private_key"), c.GetPrivateKey())
		if err != nil {
			return nil, err
		}
		pair, err := tls.X509KeyPair(chain, key)
		if err != nil {
			return nil, tp.errorf("%v", err)
		}
		cfg.Certificates = append(cfg.Certificates, pair)
	}
	vc, vp := ctx.GetValidationContext(), cp.field("validation_context")
	if cc := ctx.GetCombinedValidationContext(); cc != nil {
		vp = cp.field("combined_validation_context")
		if err := onlyFields(vp, cc, "default_validation_context"); err != nil {
			return nil, err
		}
		vc, vp = cc.GetDefaultValidationContext(), vp.field("default_validation_context")
	}
	if vc == nil {
		// Without a validation context Envoy does not verify the upstream's certificate.
		cfg.InsecureSkipVerify = true
		return cfg, nil
	}
	if err := onlyFields(vp, vc, "trusted_ca", "match_typed_subject_alt_names"); err != nil {
		return nil, err
	}
	if vc.GetTrustedCa() == nil {
		return nil, vp.field("trusted_ca").errorf("required to verify the upstream")
	}
	pem, err := dataSource(vp.field("trusted_ca"), vc.GetTrustedCa())
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, vp.field("trusted_ca").errorf("no PEM certificate found")
	}
	var sans []sanMatcher
	for i, m := range vc.GetMatchTypedSubjectAltNames() {
		mp := vp.field("match_typed_subject_alt_names").index(i)
		if err := onlyFields(mp, m, "san_type", "matcher"); err != nil {
			return nil, err
		}
		sm, err := decodeStringMatcher(mp.field("matcher"), m.GetMatcher())
		if err != nil {
			return nil, err
		}
		sans = append(sans, sanMatcher{typ: m.GetSanType(), m: sm})
	}
	// Verify ourselves: Envoy checks the chain against trusted_ca and the SANs against the
	// matchers, not the SNI against the certificate's names.
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return fmt.Errorf("upstream sent no certificate")
		}
		opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		leaf := cs.PeerCertificates[0]
		if _, err := leaf.Verify(opts); err != nil {
			return err
		}
		if len(sans) == 0 {
			return nil
		}
		for _, s := range sans {
			if s.matches(leaf) {
				return nil
			}
		}
		return fmt.Errorf("upstream certificate matches none of the subject alt names wanted")
	}
	return cfg, nil
}

type sanMatcher struct {
	typ tlsv3.SubjectAltNameMatcher_SanType
	m   stringMatcher
}

func (s sanMatcher) matches(c *x509.Certificate) bool {
	var names []string
	switch s.typ {
	case tlsv3.SubjectAltNameMatcher_DNS:
		names = c.DNSNames
	case tlsv3.SubjectAltNameMatcher_URI:
		for _, u := range c.URIs {
			names = append(names, u.String())
		}
	case tlsv3.SubjectAltNameMatcher_EMAIL:
		names = c.EmailAddresses
	case tlsv3.SubjectAltNameMatcher_IP_ADDRESS:
		for _, ip := range c.IPAddresses {
			names = append(names, ip.String())
		}
	}
	for _, n := range names {
		if s.m.match(n) || (s.typ == tlsv3.SubjectAltNameMatcher_DNS && wildcardDNSMatch(n, &s.m)) {
			return true
		}
	}
	return false
}

// wildcardDNSMatch lets a certificate's "*.example.com" satisfy an exact "a.example.com".
func wildcardDNSMatch(certName string, m *stringMatcher) bool {
	if m.kind != strExact || !strings.HasPrefix(certName, "*.") {
		return false
	}
	_, rest, ok := strings.Cut(m.s, ".")
	return ok && strings.EqualFold(rest, certName[2:])
}

func dataSource(p fieldPath, d *core.DataSource) ([]byte, error) {
	if d == nil {
		return nil, p.errorf("required")
	}
	switch s := d.GetSpecifier().(type) {
	case *core.DataSource_Filename:
		b, err := os.ReadFile(s.Filename)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.field("filename"), err) // keeps fs.ErrNotExist
		}
		return b, nil
	case *core.DataSource_InlineString:
		return []byte(s.InlineString), nil
	case *core.DataSource_InlineBytes:
		return s.InlineBytes, nil
	}
	return nil, p.errorf("one of filename, inline_string, inline_bytes is required")
}
