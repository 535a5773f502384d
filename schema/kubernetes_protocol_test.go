package schema

import "testing"

// TestKubernetesProtocol: a Service port's protocol as Istio's ConvertProtocol
// (pkg/config/kube/conversion.go) reads it, in ServiceEntry protocol names ("" is sniffed).
func TestKubernetesProtocol(t *testing.T) {
	str := func(s string) *string { return &s }
	for _, c := range []struct {
		name        string
		port        uint32
		proto       string
		appProtocol *string
		want        string
	}{
		{name: "http", port: 80, want: "HTTP"},
		{name: "http-api", port: 80, want: "HTTP"},
		{name: "HTTP2-internal", port: 80, want: "HTTP2"},
		{name: "grpc", port: 80, want: "GRPC"},
		{name: "grpc-web", port: 80, want: "GRPC-WEB"},
		{name: "GRPC-Web-ui", port: 80, want: "GRPC-WEB"},
		{name: "grpcweb", port: 80, want: ""},
		{name: "https-admin", port: 443, want: "HTTPS"},
		{name: "tls", port: 443, want: "TLS"},
		{name: "tcp-db", port: 5432, want: "TCP"},
		{name: "mongo", port: 27017, want: "MONGO"},
		{name: "redis", port: 6379, want: "REDIS"},
		{name: "mysql", port: 3306, want: "MYSQL"},
		{name: "http_proxy", port: 3128, want: "HTTP_PROXY"},
		// protocol.Parse knows udp as a name too: a TCP port named so is UDP in Istio.
		{name: "udp", port: 5353, want: "UDP"},
		// A UDP port is UDP whatever its name or appProtocol.
		{name: "http", port: 53, proto: "UDP", want: "UDP"},
		{name: "dns", port: 53, proto: "UDP", appProtocol: str("kubernetes.io/h2c"), want: "UDP"},
		// Unknown names and none are sniffed, except on the well-known ports, which are TCP.
		{name: "", port: 8080, want: ""},
		{name: "web", port: 8080, want: ""},
		{name: "web", port: 25, want: "TCP"},
		{name: "", port: 53, want: "TCP"},
		{name: "db", port: 3306, want: "TCP"},
		{name: "", port: 27017, want: "TCP"},
		// SCTP is no UDP: the name decides.
		{name: "http", port: 80, proto: "SCTP", want: "HTTP"},
		// appProtocol, when set, is read instead of the name, even empty.
		{name: "tcp", port: 80, appProtocol: str("http"), want: "HTTP"},
		{name: "http", port: 80, appProtocol: str(""), want: ""},
		{name: "http", port: 3306, appProtocol: str(""), want: "TCP"},
		{name: "http", port: 80, appProtocol: str("grpc-web"), want: "GRPC-WEB"},
		{name: "http", port: 80, appProtocol: str("example.com/custom"), want: ""},
		// Kubernetes' own appProtocol names.
		{name: "web", port: 80, appProtocol: str("kubernetes.io/h2c"), want: "HTTP2"},
		{name: "web", port: 80, appProtocol: str("kubernetes.io/ws"), want: "HTTP"},
		{name: "web", port: 443, appProtocol: str("kubernetes.io/wss"), want: "HTTPS"},
		{name: "web", port: 80, appProtocol: str("Kubernetes.io/H2C"), want: ""},
		// ... only in appProtocol: a port name cannot hold a '/', and a name is no appProtocol.
		{name: "h2c", port: 80, want: ""},
	} {
		p := KubernetesServicePort{Name: c.name, Port: c.port, Protocol: c.proto, AppProtocol: c.appProtocol}
		app := "unset"
		if c.appProtocol != nil {
			app = *c.appProtocol
		}
		if got := kubernetesProtocol(p); got != c.want {
			t.Errorf("port %d/%s named %q, appProtocol %s: protocol %q, want %q", c.port, c.proto, c.name, app, got, c.want)
		}
	}
}
