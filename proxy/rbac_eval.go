package proxy

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
)

// rbacInput is what the RBAC matchers read about one request. Only what the listener's
// matchers need is filled (rbacChain.need*), so a chain of header rules reads no socket.
type rbacInput struct {
	r      *http.Request
	port   uint32     // the listener's configured port
	local  netip.Addr // the connection's local address; invalid when unknown
	remote netip.Addr // the downstream peer
	// tls is the downstream TLS connection's state; nil when the connection is plain text.
	tls *tls.ConnectionState
	// jwt is the request's jwt_authn dynamic metadata, which metadata matchers read; nil
	// when no payload was verified.
	jwt jwtMetadata
}

// rbacDeniedBody is Envoy's body for a request its RBAC filter denies.
const rbacDeniedBody = "RBAC: access denied"

var rbacDeniedLength = []string{strconv.Itoa(len(rbacDeniedBody))}

// permit runs the chain over a request, in order, as Envoy runs the filters: the first filter
// that denies answers 403 and nothing after it (CORS, fault, the router) runs. Shadow rules
// are evaluated before the filter's own rules and only counted. md is what jwt_authn verified
// for this request, which metadata matchers read.
func (c *rbacChain) permit(w http.ResponseWriter, r *http.Request, reg *statsRegistry, md jwtMetadata) bool {
	in := rbacInput{r: r, port: c.port, jwt: md}
	if c.needRemote {
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
			in.remote = ap.Addr().Unmap()
		}
	}
	if c.needLocal || c.needTLS {
		conn := requestConn(w, r)
		if c.needLocal {
			in.local = localAddr(conn, r)
		}
		if c.needTLS {
			in.tls = tlsStateOf(conn, r)
		}
	}
	shadowDenied, ok := c.decide(&in)
	if shadowDenied > 0 {
		c.counters(reg).rbacShadowDenied.Add(shadowDenied)
	}
	if !ok {
		c.counters(reg).rbacDenied.Add(1)
		if grpcLocalReply(w, in.r, http.StatusForbidden, rbacDeniedBody) {
			return false
		}
		h := w.Header()
		h["Content-Type"] = textPlainDR
		h["Content-Length"] = rbacDeniedLength
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, rbacDeniedBody)
		return false
	}
	return true
}

// decide runs the chain's filters in order over what in holds, for a request (permit) or a
// connection (rbac_network.go): each filter's shadow rules are evaluated before its rules
// and only counted, and the first filter whose rules deny ends the evaluation, as the
// filters after it would not run in Envoy. It counts nothing itself, so each caller keeps
// its own counters, and it allocates nothing.
func (c *rbacChain) decide(in *rbacInput) (shadowDenied uint64, ok bool) {
	for i := range c.filters {
		f := &c.filters[i]
		if f.shadow != nil && !f.shadow.allows(in) {
			shadowDenied++
		}
		if f.rules != nil && !f.rules.allows(in) {
			return shadowDenied, false
		}
	}
	return shadowDenied, true
}

// allows reports whether the engine lets the request through: ALLOW needs a matching policy
// (so an ALLOW without policies denies everything), DENY needs none to match.
func (e *rbacEngine) allows(in *rbacInput) bool {
	matched := false
	for i := range e.policies {
		if e.policies[i].match(in) {
			matched = true
			break
		}
	}
	return matched != e.deny
}

func (p *rbacPolicy) match(in *rbacInput) bool {
	return anyMatch(p.permissions, in) && anyMatch(p.principals, in)
}

func anyMatch(ms []rbacMatcher, in *rbacInput) bool {
	for i := range ms {
		if ms[i].match(in) {
			return true
		}
	}
	return false
}

func (m *rbacMatcher) match(in *rbacInput) bool {
	switch m.kind {
	case rbAny:
		return true
	case rbAnd:
		for i := range m.children {
			if !m.children[i].match(in) {
				return false
			}
		}
		return true
	case rbOr:
		return anyMatch(m.children, in)
	case rbNot:
		return !m.children[0].match(in)
	case rbHeader:
		return m.header.match(in.r)
	case rbPath:
		return m.str.match(requestPath(in.r))
	case rbDestPort:
		return in.port == m.lo
	case rbDestRange:
		return m.lo <= in.port && in.port < m.hi
	case rbDestIP:
		return cidrContains(m.prefix, in.local)
	case rbRemoteIP:
		return cidrContains(m.prefix, in.remote)
	case rbSNI:
		sni := ""
		if in.tls != nil {
			sni = in.tls.ServerName
		}
		return m.str.match(sni)
	case rbAuthenticated:
		return m.authenticated(in.tls)
	case rbMetadata:
		return m.meta.match(in.jwt)
	}
	return false
}

// authenticated follows Envoy's AuthenticatedMatcher: any TLS connection matches when no
// principal_name is given; otherwise the peer certificate's URI SANs, then its DNS SANs, then
// its subject (RFC 2253) are tried. A TLS connection without a client certificate has an
// empty subject, which only a matcher of "" can match; a plain-text one matches nothing.
func (m *rbacMatcher) authenticated(cs *tls.ConnectionState) bool {
	if cs == nil {
		return false
	}
	if !m.hasStr {
		return true
	}
	if len(cs.PeerCertificates) == 0 {
		return m.str.match("")
	}
	cert := cs.PeerCertificates[0]
	for _, u := range cert.URIs {
		if m.str.match(u.String()) {
			return true
		}
	}
	for _, d := range cert.DNSNames {
		if m.str.match(d) {
			return true
		}
	}
	return m.str.match(subjectRFC2253(cert))
}

// cidrContains is Envoy's CidrRange::isInRange: an address of the other IP version never
// matches, and a zero-length prefix matches every address of its version.
func cidrContains(p netip.Prefix, a netip.Addr) bool {
	if !a.IsValid() || !p.IsValid() {
		return false
	}
	return p.Contains(a.WithZone(""))
}

// requestConn is the downstream connection a request arrived on: the lean server's, or the
// one net/http's server handed to withConnInfo; nil when neither is known (a handler called
// directly).
func requestConn(w http.ResponseWriter, r *http.Request) net.Conn {
	if hw, ok := w.(*h1Writer); ok && hw.c != nil {
		return hw.c.conn
	}
	if ci, _ := r.Context().Value(connInfoKey{}).(*connInfo); ci != nil {
		return ci.conn
	}
	return nil
}

// localAddr is the connection's local address. A dual-stack socket reports IPv4 peers as
// IPv4-mapped IPv6; Envoy unmaps those, and so does this.
func localAddr(conn net.Conn, r *http.Request) netip.Addr {
	var a net.Addr
	if conn != nil {
		a = conn.LocalAddr()
	} else {
		a, _ = r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	}
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	case nil:
		return netip.Addr{}
	default:
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return netip.Addr{}
		}
		return ap.Addr().Unmap()
	}
}

// tlsStateOf is the TLS state of the request's connection, beneath the h2c hand-off; nil for
// plain text. Requests of a TLS listener carry only the overTLS marker in r.TLS, so the
// state is read from the connection itself.
func tlsStateOf(conn net.Conn, r *http.Request) *tls.ConnectionState {
	for conn != nil {
		switch c := conn.(type) {
		case *tls.Conn:
			cs := c.ConnectionState()
			return &cs
		case *prefixedConn:
			conn = c.Conn
		default:
			conn = nil
		}
	}
	return r.TLS // overTLS (TLS, nothing known of it), a real state, or nil
}
