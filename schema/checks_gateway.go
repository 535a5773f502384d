package schema

import (
	"net"
	"path"
	"strconv"
	"strings"
)

func checkGateway(s *docState, gw *Gateway) {
	if !isDNSLabel(s.doc.Name, false) {
		s.failf("metadata.name", "a Gateway's name must be a DNS-1123 label (no dots), got %q", s.doc.Name)
	}
	names := map[string]int{}
	for i := range gw.Servers {
		p := idx("spec.servers", i)
		srv := &gw.Servers[i]
		checkServer(s, p, srv)
		if j, ok := names[srv.Port.Name]; ok {
			s.failf(p+".port.name", "duplicate port name %q, first at spec.servers[%d]", srv.Port.Name, j)
		} else {
			names[srv.Port.Name] = i
		}
	}
}

func checkServer(s *docState, p string, srv *Server) {
	for i, h := range srv.Hosts {
		_, name, ok := strings.Cut(h, "/")
		if !ok {
			name = h
		}
		switch {
		case name == "*" || isIP(name):
		case !strings.Contains(name, "."):
			s.failf(idx(p+".hosts", i), "a Gateway host must be fully qualified (or \"*\"), got %q", h)
		case strings.Contains(name, "*") && !strings.HasPrefix(name, "*."):
			s.failf(idx(p+".hosts", i), "a partial wildcard is not allowed in a Gateway host (use \"*.example.com\"), got %q", h)
		}
	}
	unix := strings.HasPrefix(srv.Bind, "unix://")
	switch {
	case unix:
		checkUnixPath(s, p+".bind", strings.TrimPrefix(srv.Bind, "unix://"))
		if srv.Port.Number != 0 {
			s.fail(p+".port.number", "must be 0 with a unix:// bind")
		}
	case srv.Bind != "" && !isIP(srv.Bind):
		s.failf(p+".bind", "must be an IP address or a unix:// path, got %q", srv.Bind)
	}
	if !unix && srv.Port.Number == 0 {
		s.fail(p+".port.number", "must be >= 1, got 0")
	}
	if srv.Port.TargetPort != 0 {
		s.fail(p+".port.targetPort", "has no effect on a Gateway; remove it")
	}
	proto := strings.ToUpper(srv.Port.Protocol)
	isTLS := proto == "HTTPS" || proto == "TLS"
	isHTTP := proto == "HTTP" || proto == "HTTP2" || proto == "GRPC" || proto == "GRPC-WEB" || proto == "HTTP_PROXY"
	t := srv.TLS
	switch {
	case isTLS && t == nil:
		s.fail(p+".tls", "is required for "+proto+" servers")
	case !isTLS && t != nil && isHTTP:
		passthrough := t.Mode == "" || t.Mode == "PASSTHROUGH" || t.Mode == "AUTO_PASSTHROUGH"
		if !passthrough || t.CACertificates != "" || t.PrivateKey != "" || t.ServerCertificate != "" {
			s.fail(p+".tls", "a plain-text "+proto+" server can only have tls.httpsRedirect")
		}
	case !isTLS && t != nil:
		s.fail(p+".tls", "a "+proto+" server cannot have TLS settings")
	}
	if t != nil {
		checkServerTLS(s, p+".tls", t)
	}
	if e := srv.DefaultEndpoint; e != "" {
		checkDefaultEndpoint(s, p+".defaultEndpoint", e)
	}
}

func checkServerTLS(s *docState, p string, t *ServerTLSSettings) {
	if t.Mode == "ISTIO_MUTUAL" {
		for _, f := range []struct{ name, v string }{{"serverCertificate", t.ServerCertificate}, {"privateKey", t.PrivateKey},
			{"caCertificates", t.CACertificates}, {"credentialName", t.CredentialName}} {
			if f.v != "" {
				s.fail(p+"."+f.name, "cannot be set with mode ISTIO_MUTUAL")
			}
		}
		return
	}
	// The server's certificates come from one place.
	sources := 0
	for _, set := range []bool{t.CredentialName != "", len(t.CredentialNames) > 0, len(t.TLSCertificates) > 0,
		t.ServerCertificate != "" || t.PrivateKey != ""} {
		if set {
			sources++
		}
	}
	if sources > 1 {
		s.fail(p, "set only one of credentialName, credentialNames, tlsCertificates or serverCertificate/privateKey")
	}
	mutual := t.Mode == "MUTUAL" || t.Mode == "OPTIONAL_MUTUAL"
	remote := t.CredentialName != "" || len(t.CredentialNames) > 0
	switch {
	case remote || t.Mode != "SIMPLE" && !mutual:
	case len(t.TLSCertificates) > 0:
		for i, c := range t.TLSCertificates {
			cp := idx(p+".tlsCertificates", i)
			if c.ServerCertificate == "" {
				s.fail(cp+".serverCertificate", "is required")
			}
			if c.PrivateKey == "" {
				s.fail(cp+".privateKey", "is required")
			}
		}
	default:
		if t.ServerCertificate == "" {
			s.fail(p+".serverCertificate", "is required with mode "+t.Mode+" (unless credentialName is set)")
		}
		if t.PrivateKey == "" {
			s.fail(p+".privateKey", "is required with mode "+t.Mode+" (unless credentialName is set)")
		}
	}
	if mutual && !remote && t.CACertificates == "" {
		s.fail(p+".caCertificates", "is required with mode "+t.Mode+" (unless credentialName is set)")
	}
	if t.CACrl != "" {
		if t.CredentialName != "" {
			s.fail(p+".caCrl", "cannot be set with credentialName: the credential holds the CRL")
		} else if t.Mode == "SIMPLE" {
			s.fail(p+".caCrl", "is not supported with mode SIMPLE")
		}
	}
}

// checkUnixPath: an absolute file path, or an abstract socket ("@name").
func checkUnixPath(s *docState, p, addr string) {
	switch {
	case addr == "":
		s.fail(p, "a unix domain socket address must not be empty")
	case strings.HasPrefix(addr, "@"):
	case !path.IsAbs(addr):
		s.failf(p, "a unix domain socket must be an absolute path or an abstract socket (@name), got %q", addr)
	case strings.HasSuffix(addr, "/"):
		s.failf(p, "a unix domain socket path must name a file, not a directory, got %q", addr)
	}
}

// checkDefaultEndpoint: "127.0.0.1:port", "0.0.0.0:port", "[::1]:port", "[::]:port" or a
// unix:// path.
func checkDefaultEndpoint(s *docState, p, e string) {
	if rest, ok := strings.CutPrefix(e, "unix://"); ok {
		checkUnixPath(s, p, rest)
		return
	}
	host, port, err := net.SplitHostPort(e)
	n, perr := strconv.Atoi(port)
	switch {
	case err != nil || perr != nil || n < 1 || n > 65535:
		s.failf(p, "must be IP:port or a unix:// path, got %q", e)
	case host != "" && host != "127.0.0.1" && host != "0.0.0.0" && host != "::1" && host != "::":
		s.failf(p, "the host must be 127.0.0.1, 0.0.0.0, ::1 or ::, got %q", host)
	}
}
