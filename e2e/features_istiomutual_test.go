package e2e

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeCertificate writes a certificate and its key as the PEM files a platform mounts on a
// proxy's machine, returning their paths.
func writeCertificate(t *testing.T, dir, name string, c tls.Certificate) (chain, key string) {
	t.Helper()
	kb, err := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	chain, key = filepath.Join(dir, name+"-chain.pem"), filepath.Join(dir, name+"-key.pem")
	if err := os.WriteFile(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return chain, key
}

// startMeshWorkload serves HTTPS as a workload behind an Istio sidecar does for ISTIO_MUTUAL:
// it presents the mesh certificate of its identity and requires one from the mesh's CA. It
// answers with the SNI, the ALPN protocols the client offered (by which Istio's inbound
// listener picks its mTLS chain) and the client's identity.
func startMeshWorkload(t *testing.T, p *pki, identity string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var offered sync.Map // remote address -> the ALPN protocols offered
	cfg := &tls.Config{Certificates: []tls.Certificate{p.workload(identity)}, ClientCAs: p.pool,
		ClientAuth: tls.RequireAndVerifyClientCert,
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			offered.Store(hello.Conn.RemoteAddr().String(), strings.Join(hello.SupportedProtos, ","))
			return nil, nil
		}}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			client := ""
			if c := r.TLS.PeerCertificates; len(c) > 0 && len(c[0].URIs) > 0 {
				client = c[0].URIs[0].String()
			}
			alpn, _ := offered.Load(r.RemoteAddr)
			json.NewEncoder(w).Encode(map[string]any{"sni": r.TLS.ServerName, "alpn": alpn, "client": client})
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // the refused handshake is logged
	}
	go srv.Serve(tls.NewListener(ln, cfg))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// A DestinationRule with tls ISTIO_MUTUAL (bookinfo's destination-rule-all-mtls.yaml) makes the
// sidecar originate mTLS with the mesh's certificates that signalbox.yaml's meshCertificates
// names: it presents its SPIFFE identity, sends Istio's SNI and ALPN, and accepts the upstream
// only if its certificate, from the mesh's CA, carries the identity of the service account its
// endpoint runs as. An upstream with another identity fails with 503, as through Envoy.
func TestFeatureIstioMutualTLS(t *testing.T) {
	p := newPKI(t, "unused")
	chain, key := writeCertificate(t, p.dir, "productpage", p.workload("spiffe://cluster.local/ns/default/sa/bookinfo-productpage"))
	addr := startMeshWorkload(t, p, "spiffe://cluster.local/ns/default/sa/bookinfo-reviews")
	host, port, _ := strings.Cut(addr, ":")
	m := startMesh(t, map[string]string{
		"policies/signalbox.yaml": fmt.Sprintf("meshCertificates: {certificateChain: %s, privateKey: %s, caCertificates: %s}\n", chain, key, p.caFile),
		"policies/bookinfo.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews}
spec:
  hosts: [reviews.default.svc.cluster.local]
  ports:
  - {number: 9080, name: http, protocol: HTTP}
  resolution: STATIC
  endpoints:
  - {address: %[1]s, ports: {http: %[2]s}, labels: {version: v1}, serviceAccount: bookinfo-reviews}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ratings}
spec:
  hosts: [ratings.default.svc.cluster.local]
  ports:
  - {number: 9080, name: http, protocol: HTTP}
  resolution: STATIC
  endpoints:
  - {address: %[1]s, ports: {http: %[2]s}, serviceAccount: bookinfo-ratings}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    tls:
      mode: ISTIO_MUTUAL
  subsets:
  - name: v1
    labels:
      version: v1
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings}
spec:
  host: ratings
  trafficPolicy:
    tls:
      mode: ISTIO_MUTUAL
`, host, port),
	})
	r := m.get("reviews", "/", nil)
	var got struct{ SNI, ALPN, Client string }
	json.Unmarshal([]byte(r.body), &got)
	want := struct{ SNI, ALPN, Client string }{"outbound_.9080_.v1_.reviews.default.svc.cluster.local", "istio-peer-exchange,istio",
		"spiffe://cluster.local/ns/default/sa/bookinfo-productpage"}
	if r.status != http.StatusOK || got != want {
		t.Fatalf("through ISTIO_MUTUAL: status %d %+v (body %q), want 200 %+v", r.status, got, r.body, want)
	}
	// The same workload as ratings, whose endpoint runs as bookinfo-ratings: its certificate
	// names bookinfo-reviews, so the sidecar refuses it.
	if r := m.get("ratings", "/", nil); r.status != http.StatusServiceUnavailable {
		t.Fatalf("an upstream presenting another service account: status %d body %q, want 503", r.status, r.body)
	}
}

// A Gateway server with tls ISTIO_MUTUAL serves the mesh's certificate and requires a client
// certificate from the mesh's CA carrying one of its subjectAltNames, as Istio's gateway does
// with its workload certificate: a mesh workload of another identity, or a client without a
// certificate, is refused in the handshake.
func TestFeatureGatewayIstioMutualTLS(t *testing.T) {
	p := newPKI(t, "eastwest.mesh.internal")
	shop := startEchoServer(t, "shop")
	m := startMesh(t, map[string]string{
		"policies/signalbox.yaml": fmt.Sprintf("meshCertificates: {certificateChain: %s, privateKey: %s, caCertificates: %s}\n", p.serverFile, p.serverKFile, p.caFile),
		"policies/shop.yaml": serviceEntry("shop", "shop.default.svc.cluster.local", shop.endpoint("app: shop")) + `---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: eastwest}
spec:
  selector: {istio: eastwestgateway}
  servers:
  - port: {number: 8443, name: https, protocol: HTTPS}
    hosts: [shop.default.svc.cluster.local]
    tls:
      mode: ISTIO_MUTUAL
      subjectAltNames: [spiffe://cluster.local/ns/default/sa/bookinfo-productpage]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop}
spec:
  hosts: [shop.default.svc.cluster.local]
  gateways: [eastwest]
  http:
  - route: [{destination: {host: shop.default.svc.cluster.local}}]
`,
	})
	gw := startGateway(t, m, map[string]string{"istio": "eastwestgateway"})
	addr := gw.ListenerAddr("0.0.0.0_8443")
	if addr == "" {
		t.Fatal("the gateway has no listener for port 8443")
	}
	send := func(certs ...tls.Certificate) (int, error) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool, ServerName: "eastwest.mesh.internal", Certificates: certs}}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequestWithContext(m.ctx, "GET", "https://"+addr+"/", nil)
		req.Host = "shop.default.svc.cluster.local"
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := send(p.workload("spiffe://cluster.local/ns/default/sa/bookinfo-productpage")); code != http.StatusOK {
		t.Fatalf("the mesh identity the server names: %d %v, want 200", code, err)
	}
	before := len(shop.requests())
	if code, err := send(p.workload("spiffe://cluster.local/ns/default/sa/bookinfo-ratings")); err == nil {
		t.Errorf("another mesh identity: %d, want the handshake refused", code)
	}
	if code, err := send(); err == nil {
		t.Errorf("no client certificate: %d, want the handshake refused", code)
	}
	if len(shop.requests()) != before {
		t.Errorf("a refused client reached the backend")
	}
}
