// Package gen owns synthetic policy trees for benchmarks and load tests: N services, each with
// a ServiceEntry (three workloads), a DestinationRule (two subsets) and a VirtualService
// (a header match and a weighted split), plus one ingress Gateway routing a tenth of them.
// `go run ./internal/gen -n 1000 -o DIR` writes one to disk.
package gen

import (
	"fmt"
	"strings"

	"github.com/signalbox/signalbox/schema"
)

// Tree returns the files of a tree with n services. canaryWeight is the weight of subset v2
// on every service's default route (0..100), so two trees can differ in one place or many.
func Tree(n, canaryWeight int) []schema.File {
	files := []schema.File{{Path: "signalbox.yaml", Data: []byte("sidecarListener: 127.0.0.1:15001\n")}}
	var gwHosts []string
	for i := 0; i < n; i++ {
		files = append(files, schema.File{Path: fmt.Sprintf("services/svc-%05d.yaml", i), Data: []byte(Service(i, canaryWeight))})
		if i%10 == 0 {
			gwHosts = append(gwHosts, fmt.Sprintf("svc-%05d.example.com", i))
		}
	}
	files = append(files, schema.File{Path: "gateway.yaml", Data: []byte(gateway(gwHosts))})
	return files
}

// Service is the three documents of service i.
func Service(i, canaryWeight int) string {
	name := fmt.Sprintf("svc-%05d", i)
	a, b := (i/250)%250+1, i%250+1
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: %[1]s
spec:
  hosts: [%[1]s.default.svc.cluster.local]
  ports:
  - {number: 8080, name: http, protocol: HTTP}
  resolution: STATIC
  endpoints:
  - {address: 10.%[2]d.%[3]d.1, labels: {version: v1}}
  - {address: 10.%[2]d.%[3]d.2, labels: {version: v1}}
  - {address: 10.%[2]d.%[3]d.3, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: %[1]s
spec:
  host: %[1]s
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: %[1]s
spec:
  hosts: [%[1]s]
  http:
  - match:
    - headers: {x-canary: {exact: "true"}}
      uri: {prefix: /api}
    route:
    - destination: {host: %[1]s, subset: v2}
  - route:
    - destination: {host: %[1]s, subset: v1}
      weight: %[4]d
    - destination: {host: %[1]s, subset: v2}
      weight: %[5]d
`, name, a, b, 100-canaryWeight, canaryWeight)
}

func gateway(hosts []string) string {
	var vs strings.Builder
	for _, h := range hosts {
		svc := strings.TrimSuffix(h, ".example.com")
		fmt.Fprintf(&vs, `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: %[1]s-ingress
spec:
  hosts: [%[2]s]
  gateways: [ingress]
  http:
  - route:
    - destination: {host: %[1]s}
`, svc, h)
	}
	return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: ingress
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["*.example.com"]
` + vs.String()
}
