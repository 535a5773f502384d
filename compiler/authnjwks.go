package compiler

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/signalbox/signalbox/compiler/ir"
	"github.com/signalbox/signalbox/schema"
)

// Istio's values for keys the proxy fetches itself (convertToEnvoyJwtConfig in
// pilot/pkg/security/authn): the fetch timeout when a jwtRule gives none, and how long fetched
// keys are used before they are fetched again.
const (
	jwksFetchTimeout  = 5 * time.Second
	jwksCacheDuration = 5 * time.Minute
)

// keySource checks where a jwtRule's keys come from and returns the remote source when the proxy
// fetches them (nil for inline keys). Both set: jwksUri wins and jwks is ignored, as in Istio's
// envoy fetch mode; signalbox says so rather than drop the keys silently.
func (b *builder) keySource(d *schema.Document, path string, r schema.JWTRule) *ir.RemoteJWKS {
	if r.JWKS != "" {
		if err := checkJWKS(r.JWKS); err != nil {
			b.errorf(d, path+".jwks", "%v", err)
		}
	}
	switch {
	case r.JWKSURI != "":
		if r.JWKS != "" {
			b.warnf(d, path+".jwks", "ignored: jwksUri is set, so the proxy fetches the keys from it (as Istio does)")
		}
		return b.remoteJWKS(d, path, r)
	case r.JWKS == "":
		b.unsupportedf(d, path, "without jwks or jwksUri the keys would be discovered from the issuer, which signalbox does not do: give jwksUri or jwks")
	case r.Timeout != "":
		b.warnf(d, path+".timeout", "has no effect: it bounds fetching the keys from jwksUri, and this rule's keys are inline")
	}
	return nil
}

// remoteJWKS resolves a jwksUri as Istio's envoy fetch mode does (ParseJwksURI, LookupCluster):
// the URI's host and port (443 for https, 80 for http when it names none) pick the outbound
// cluster of the ServiceEntry declaring them, through which the proxy fetches the keys. Where
// Istio logs the failed lookup and points Envoy at a cluster that does not exist, signalbox
// refuses the rule, since every token of the issuer would fail. An https URI needs a cluster that
// originates TLS: Envoy fetches in whatever the cluster speaks, and would send plain HTTP to the
// TLS port.
func (b *builder) remoteJWKS(d *schema.Document, path string, r schema.JWTRule) *ir.RemoteJWKS {
	at := path + ".jwksUri"
	u, port, err := parseJWKSURI(r.JWKSURI)
	if err != nil {
		b.errorf(d, at, "%v", err)
		return nil
	}
	host := u.Hostname()
	svc, ok := b.services[host]
	if !ok {
		b.errorf(d, at, "host %q is not declared: the proxy fetches the keys through the host's cluster, "+
			"so declare it with a ServiceEntry (location MESH_EXTERNAL, resolution DNS or STATIC) with port %d", host, port)
		return nil
	}
	where := fmt.Sprintf("%s %s/%s at %s", svc.doc.Kind, svc.doc.Namespace, svc.doc.Name, svc.doc.Pos)
	c := b.clusters[clusterName(port, "", host)]
	if !svc.hasAnyPort(port) || c == nil {
		b.errorf(d, at, "%s declares host %q without port %d, which the keys are fetched from: add the port", where, host, port)
		return nil
	}
	if len(c.Endpoints) == 0 {
		b.errorf(d, at, "%s gives host %q no endpoint to fetch the keys from: give it endpoints or resolution DNS", where, host)
		return nil
	}
	if u.Scheme == "https" && (c.Policy == nil || c.Policy.TLS == nil) {
		b.errorf(d, at, "an https URL, but cluster %s does not originate TLS, so the proxy would send plain HTTP to port %d: "+
			"add a DestinationRule for host %q with trafficPolicy.tls mode SIMPLE (or MUTUAL)", c.Name, port, host)
		return nil
	}
	timeout := ir.Duration(jwksFetchTimeout)
	if r.Timeout != "" {
		timeout = b.duration(d, path+".timeout", r.Timeout)
	}
	return &ir.RemoteJWKS{URI: r.JWKSURI, Cluster: c.Name, Timeout: timeout, CacheDuration: ir.Duration(jwksCacheDuration)}
}

// parseJWKSURI is Istio's ParseJwksURI (an http or https URL; the port it names, else the
// scheme's) with what a fetch by the proxy needs besides: one host, a port Envoy can dial, and no
// user information, which the proxy would not send as credentials.
func parseJWKSURI(s string) (*url.URL, uint32, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, 0, fmt.Errorf("not a URL: %v", err)
	}
	var port uint32
	switch u.Scheme {
	case "https":
		port = 443
	case "http":
		port = 80
	default:
		return nil, 0, fmt.Errorf("must be an http or https URL, got %q", s)
	}
	switch host := u.Hostname(); {
	case host == "":
		return nil, 0, fmt.Errorf("must name a host, got %q", s)
	case strings.Contains(host, "*"):
		return nil, 0, fmt.Errorf("names the wildcard host %q: the keys are fetched from one host", host)
	case u.User != nil:
		return nil, 0, fmt.Errorf("must not carry user information: the proxy fetches the keys without credentials")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return nil, 0, fmt.Errorf("port %s is not 1 to 65535", p)
		}
		port = uint32(n)
	}
	return u, port, nil
}

// carryCluster adds a cluster (its variants) to a role's clusters (sorted by name) unless the role carries it already:
// a gateway role carries only the clusters its routes use, and the keys' cluster may be none.
func carryCluster(r *ir.Role, variants []*ir.Cluster) {
	if len(variants) == 0 {
		return
	}
	i, found := slices.BinarySearchFunc(r.Clusters, variants[0].Name, func(x *ir.Cluster, name string) int { return strings.Compare(x.Name, name) })
	if !found {
		r.Clusters = slices.Insert(r.Clusters, i, variants...)
	}
}
