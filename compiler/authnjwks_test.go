package compiler

import (
	"strings"
	"testing"
)

// The port a jwksUri is fetched from, as Istio's ParseJwksURI finds it, and the URIs refused
// before any ServiceEntry is looked up (schema validation reports the first two first; the
// compiler checks them again for trees built without it).
func TestParseJWKSURI(t *testing.T) {
	for _, c := range []struct {
		uri, host string
		port      uint32
		err       string
	}{
		{uri: "https://idp.example.com/.well-known/jwks.json", host: "idp.example.com", port: 443},
		{uri: "http://idp.example.com/jwks", host: "idp.example.com", port: 80},
		{uri: "https://idp.example.com:8443/jwks", host: "idp.example.com", port: 8443},
		{uri: "http://idp.example.com:443/jwks", host: "idp.example.com", port: 443},
		{uri: "ftp://idp.example.com/jwks", err: "http or https"},
		{uri: "https:///jwks", err: "must name a host"},
		{uri: "https://idp.example.com:0/jwks", err: "port 0 is not 1 to 65535"},
		{uri: "https://idp.example.com:65536/jwks", err: "port 65536"},
		{uri: "https://u:p@idp.example.com/jwks", err: "user information"},
		{uri: "https://*.example.com/jwks", err: "wildcard host"},
		{uri: "https://idp.example.com:x/jwks", err: "not a URL"},
	} {
		u, port, err := parseJWKSURI(c.uri)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want one with %q", c.uri, err, c.err)
			}
		case err != nil:
			t.Errorf("%s: %v", c.uri, err)
		case u.Hostname() != c.host || port != c.port:
			t.Errorf("%s: host %q port %d, want %q %d", c.uri, u.Hostname(), port, c.host, c.port)
		}
	}
}
