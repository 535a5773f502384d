package schema

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func bookinfo(t testing.TB, names ...string) []File {
	var files []File
	for _, n := range names {
		files = append(files, readFile(t, "testdata/istio/bookinfo/"+n, n))
	}
	return files
}

func loadClean(t *testing.T, files ...File) *Tree {
	t.Helper()
	tree, findings := Load(files)
	for _, f := range findings {
		t.Errorf("unexpected finding: %s", f)
	}
	return tree
}

func ptr[T any](v T) *T { return &v }

func TestBookinfoTypedValues(t *testing.T) {
	tree := loadClean(t, bookinfo(t, "virtual-service-reviews-80-20.yaml", "destination-rule-all.yaml", "bookinfo-gateway.yaml")...)

	var ids []string
	for _, d := range tree.Documents {
		ids = append(ids, d.Kind+" "+d.Namespace+"/"+d.Name)
	}
	want := []string{
		"DestinationRule default/details", "DestinationRule default/productpage",
		"DestinationRule default/ratings", "DestinationRule default/reviews",
		"Gateway default/bookinfo-gateway",
		"VirtualService default/bookinfo", "VirtualService default/reviews",
	}
	if !slices.Equal(ids, want) {
		t.Fatalf("documents:\n%s\nwant:\n%s", strings.Join(ids, "\n"), strings.Join(want, "\n"))
	}

	reviews := tree.Documents[6]
	if reviews.APIVersion != "networking.istio.io/v1" || reviews.Pos != (Pos{"virtual-service-reviews-80-20.yaml", 1, 1}) {
		t.Errorf("reviews: %s at %s", reviews.APIVersion, reviews.Pos)
	}
	wantVS := &VirtualService{
		Hosts: []string{"reviews"},
		HTTP: []HTTPRoute{{Route: []HTTPRouteDestination{
			{Destination: Destination{Host: "reviews", Subset: "v1"}, Weight: ptr[int32](80)},
			{Destination: Destination{Host: "reviews", Subset: "v2"}, Weight: ptr[int32](20)},
		}}},
	}
	if !reflect.DeepEqual(reviews.Spec, wantVS) {
		t.Errorf("reviews spec:\n%#v\nwant:\n%#v", reviews.Spec, wantVS)
	}

	ingress := tree.Documents[5].Spec.(*VirtualService)
	if ingress.Gateways[0] != "bookinfo-gateway" || len(ingress.HTTP[0].Match) != 5 ||
		*ingress.HTTP[0].Match[0].URI != (StringMatch{Exact: "/productpage"}) ||
		*ingress.HTTP[0].Match[1].URI != (StringMatch{Prefix: "/static"}) ||
		ingress.HTTP[0].Route[0].Destination.Port.Number != 9080 {
		t.Errorf("bookinfo VirtualService: %+v", ingress)
	}

	gw := tree.Documents[4].Spec.(*Gateway)
	wantGW := &Gateway{
		Selector: map[string]string{"istio": "ingressgateway"},
		Servers: []Server{{
			Port:  GatewayPort{Number: 8080, Protocol: "HTTP", Name: "http"},
			Hosts: []string{"*"},
		}},
	}
	if !reflect.DeepEqual(gw, wantGW) {
		t.Errorf("gateway:\n%#v\nwant:\n%#v", gw, wantGW)
	}

	dr := tree.Documents[3].Spec.(*DestinationRule)
	if dr.Host != "reviews" || len(dr.Subsets) != 3 || dr.Subsets[2].Name != "v3" ||
		dr.Subsets[2].Labels["version"] != "v3" {
		t.Errorf("reviews DestinationRule: %+v", dr)
	}
	if tree.Settings.SidecarListener != DefaultSidecarListener {
		t.Errorf("settings: %+v", tree.Settings)
	}
}

func TestHeaderMatch(t *testing.T) {
	tree := loadClean(t, bookinfo(t, "virtual-service-reviews-jason-v2-v3.yaml")...)
	vs := tree.Documents[0].Spec.(*VirtualService)
	if got := vs.HTTP[0].Match[0].Headers["end-user"]; got != (StringMatch{Exact: "jason"}) {
		t.Errorf("end-user header: %+v", got)
	}
	if vs.HTTP[1].Match != nil || vs.HTTP[1].Route[0].Destination.Subset != "v3" {
		t.Errorf("second rule: %+v", vs.HTTP[1])
	}
}

func TestServiceEntryAndMetadata(t *testing.T) {
	tree := loadClean(t, File{Path: "se.yaml", Data: []byte(`
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: db
  namespace: data
  labels: {team: storage}
  annotations: {owner: "@storage"}
  uid: 6f0c1e1a
  resourceVersion: "42"
  creationTimestamp: "2024-01-01T00:00:00Z"
spec:
  hosts: [db.data.svc]
  addresses: [10.9.0.0/16]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 5432, name: pg, protocol: tcp, targetPort: 15432}]
  endpoints:
  - address: 10.9.0.1
    ports: {pg: 5433}
    labels: {zone: a}
    weight: 2
status:
  conditions: []
`)})
	d := tree.Documents[0]
	if d.Namespace != "data" || d.Labels["team"] != "storage" || d.Annotations["owner"] != "@storage" {
		t.Errorf("metadata: %+v", d)
	}
	want := &ServiceEntry{
		Hosts:      []string{"db.data.svc"},
		Addresses:  []string{"10.9.0.0/16"},
		Ports:      []ServicePort{{Number: 5432, Protocol: "TCP", Name: "pg", TargetPort: 15432}},
		Location:   "MESH_INTERNAL",
		Resolution: "STATIC",
		Endpoints: []WorkloadEndpoint{{Address: "10.9.0.1", Ports: map[string]uint32{"pg": 5433},
			Labels: map[string]string{"zone": "a"}, Weight: 2}},
	}
	if !reflect.DeepEqual(d.Spec, want) {
		t.Errorf("spec:\n%#v\nwant:\n%#v", d.Spec, want)
	}
}

// TestPositions checks that later stages can point at any field: PosOf gives the value of a
// scalar field, the key of a mapping or list, and falls back to the nearest known ancestor.
func TestPositions(t *testing.T) {
	tree := loadClean(t, bookinfo(t, "virtual-service-reviews-80-20.yaml", "destination-rule-all.yaml")...)
	dr, vs := tree.Documents[3], tree.Documents[4]
	for _, c := range []struct {
		doc  *Document
		path string
		want string
	}{
		{vs, "metadata.name", "virtual-service-reviews-80-20.yaml:4:9"},
		{vs, "spec.hosts", "virtual-service-reviews-80-20.yaml:6:3"},
		{vs, "spec.hosts[0]", "virtual-service-reviews-80-20.yaml:7:7"},
		{vs, "spec.http[0].route[1]", "virtual-service-reviews-80-20.yaml:14:7"},
		{vs, "spec.http[0].route[1].weight", "virtual-service-reviews-80-20.yaml:17:15"},
		{vs, "spec.http[0].route[1].destination.subset", "virtual-service-reviews-80-20.yaml:16:17"},
		{vs, "spec.http[0].route[1].destination.port.number", "virtual-service-reviews-80-20.yaml:14:7"},
		{vs, "", "virtual-service-reviews-80-20.yaml:1:1"},
		{dr, "spec.subsets[0].labels.version", "destination-rule-all.yaml:21:16"},
		{dr, "spec.subsets[2].name", "destination-rule-all.yaml:25:11"},
	} {
		if got := c.doc.PosOf(c.path).String(); got != c.want {
			t.Errorf("%s %s: PosOf(%q) = %s, want %s", c.doc.Kind, c.doc.Name, c.path, got, c.want)
		}
	}
	f := vs.Finding(SeverityError, "spec.http[0].route[1].destination.subset", "spec.http[0].route[1].destination.subset: no subset v2")
	if got, want := f.String(), "virtual-service-reviews-80-20.yaml:16:17: error: VirtualService default/reviews: spec.http[0].route[1].destination.subset: no subset v2"; got != want {
		t.Errorf("Finding:\n%s\nwant:\n%s", got, want)
	}
}

func TestDuplicatesAcrossFiles(t *testing.T) {
	vs := "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews}\nspec: {hosts: [reviews], http: [{route: [{destination: {host: reviews}}]}]}\n"
	tree, findings := Load([]File{
		{Path: "b.yaml", Data: []byte(vs)},
		{Path: "a.yaml", Data: []byte("# reviews\n---\n" + vs)},
	})
	want := "b.yaml:1:1: error: VirtualService default/reviews: duplicate VirtualService default/reviews, first defined at a.yaml:3:1"
	if len(findings) != 1 || findings[0].String() != want {
		t.Errorf("findings: %v\nwant: %s", findings, want)
	}
	if len(tree.Documents) != 1 || tree.Documents[0].Pos.File != "a.yaml" {
		t.Errorf("the first definition should stay: %+v", tree.Documents)
	}
}

// TestDeterministic: the order of the files given does not change the tree or the findings.
func TestDeterministic(t *testing.T) {
	files := bookinfo(t, "virtual-service-all-v1.yaml", "virtual-service-reviews-80-20.yaml",
		"destination-rule-all.yaml", "destination-rule-all-mtls.yaml", "bookinfo-gateway.yaml")
	render := func(files []File) string {
		tree, findings := Load(files)
		var sb strings.Builder
		for _, d := range tree.Documents {
			spec, _ := json.Marshal(d.Spec)
			fmt.Fprintf(&sb, "%s %s/%s %s %s\n", d.Kind, d.Namespace, d.Name, d.Pos, spec)
		}
		for _, f := range findings {
			sb.WriteString(f.String() + "\n")
		}
		return sb.String()
	}
	first := render(files)
	slices.Reverse(files)
	if again := render(files); again != first {
		t.Errorf("order changed the result:\n%s\nthen:\n%s", first, again)
	}
	if !strings.Contains(first, "first defined at destination-rule-all-mtls.yaml") {
		t.Errorf("files should be read in path order:\n%s", first)
	}
}

func TestEmptyInputs(t *testing.T) {
	tree, findings := Load([]File{
		{Path: "empty.yaml", Data: nil},
		{Path: "separators.yaml", Data: []byte("---\n---\n# nothing here\n---\n...\n")},
		{Path: "empty.cue", Data: []byte("// nothing here\n")},
		{Path: "README.md", Data: []byte("# not a policy file\n")},
	})
	if len(tree.Documents) != 0 || len(findings) != 0 {
		t.Errorf("documents %v, findings %v", tree.Documents, findings)
	}
	if tree, findings := Load(nil); len(tree.Documents) != 0 || len(findings) != 0 || tree.Settings.SidecarListener != DefaultSidecarListener {
		t.Errorf("no files: %+v %v", tree, findings)
	}
}

func TestSettings(t *testing.T) {
	tree := loadClean(t, File{Path: "signalbox.yaml", Data: []byte("# project settings\nsidecarListener: \"[::1]:16001\"\n")})
	if tree.Settings.SidecarListener != "[::1]:16001" {
		t.Errorf("settings: %+v", tree.Settings)
	}
	tree = loadClean(t, File{Path: "signalbox.yaml", Data: []byte("credentialsDir: /etc/signalbox/credentials\n")})
	if tree.Settings.CredentialsDir != "/etc/signalbox/credentials" || tree.Settings.SidecarListener != DefaultSidecarListener {
		t.Errorf("credentialsDir: %+v", tree.Settings)
	}
	if _, findings := Load([]File{{Path: "signalbox.yaml", Data: []byte("credentialsDir: certs\n")}}); len(findings) != 1 ||
		findings[0].String() != `signalbox.yaml:1:17: error: credentialsDir: must be an absolute directory path on the gateway machines, e.g. /etc/signalbox/credentials, got "certs"` {
		t.Errorf("a relative credentialsDir: %v", findings)
	}
	tree = loadClean(t, File{Path: "signalbox.yaml", Data: []byte("localityLbSetting:\n  failover: [{from: us-east, to: us-west}]\n")})
	if l := tree.Settings.LocalityLbSetting; l == nil || len(l.Failover) != 1 || l.Failover[0].To != "us-west" {
		t.Errorf("localityLbSetting: %+v", tree.Settings.LocalityLbSetting)
	}
	// Istio's per-resource locality rules hold here too, positioned in the file.
	if _, findings := Load([]File{{Path: "signalbox.yaml", Data: []byte("localityLbSetting:\n  distribute:\n  - from: us-east/*\n    to: {\"us-east/*\": 60}\n")}}); len(findings) != 1 ||
		findings[0].String() != `signalbox.yaml:4:5: error: localityLbSetting.distribute[0].to: weights must total 100, got 60` {
		t.Errorf("distribute weights not totalling 100: %v", findings)
	}
	tree = loadClean(t, File{Path: "signalbox.yaml", Data: []byte("# nothing set\n")})
	if tree.Settings.SidecarListener != DefaultSidecarListener || tree.Settings.TrustDomain != "cluster.local" || tree.Settings.MeshCertificates != nil {
		t.Errorf("default settings: %+v", tree.Settings)
	}

	// The mesh's certificates for ISTIO_MUTUAL: all three files, absolute paths.
	tree = loadClean(t, File{Path: "signalbox.yaml", Data: []byte("meshCertificates:\n  certificateChain: /etc/certs/cert-chain.pem\n" +
		"  privateKey: /etc/certs/key.pem\n  caCertificates: /etc/certs/root-cert.pem\ntrustDomain: corp.example\n")})
	if m := tree.Settings.MeshCertificates; m == nil || *m != (MeshCertificates{"/etc/certs/cert-chain.pem", "/etc/certs/key.pem", "/etc/certs/root-cert.pem"}) ||
		tree.Settings.TrustDomain != "corp.example" {
		t.Errorf("meshCertificates: %+v %+v", tree.Settings.MeshCertificates, tree.Settings)
	}
	for _, c := range []struct{ yaml, want string }{
		{"# mesh\nmeshCertificates:\n  certificateChain: certs/chain.pem\n  privateKey: /etc/certs/key.pem\n", "signalbox.yaml:2:1: error: meshCertificates.caCertificates: is required\n" +
			`signalbox.yaml:3:21: error: meshCertificates.certificateChain: must be an absolute file path on the proxy machines, e.g. /etc/certs/cert-chain.pem, got "certs/chain.pem"`},
		{"meshCertificates: {}\n", "signalbox.yaml:1:1: error: meshCertificates.caCertificates: is required\n" +
			"signalbox.yaml:1:1: error: meshCertificates.certificateChain: is required\n" +
			"signalbox.yaml:1:1: error: meshCertificates.privateKey: is required"},
		{"trustDomain: Corp..example\n", `signalbox.yaml:1:14: error: trustDomain: must be a trust domain: lowercase DNS labels of a-z, 0-9 and '-' separated by '.', e.g. cluster.local, got "Corp..example"`},
		{"trustDomain: spiffe://corp.example\n", `signalbox.yaml:1:14: error: trustDomain: must be a trust domain: lowercase DNS labels of a-z, 0-9 and '-' separated by '.', e.g. cluster.local, got "spiffe://corp.example"`},
	} {
		tree, findings := Load([]File{{Path: "signalbox.yaml", Data: []byte(c.yaml)}})
		var got []string
		for _, f := range findings {
			got = append(got, f.String())
		}
		if strings.Join(got, "\n") != c.want || tree.Settings.MeshCertificates != nil || tree.Settings.TrustDomain != DefaultTrustDomain {
			t.Errorf("%q:\n%s\nwant:\n%s", c.yaml, strings.Join(got, "\n"), c.want)
		}
	}

	tree, findings := Load([]File{
		{Path: "signalbox.yaml", Data: []byte("sidecarListener: localhost\nlistener: 1\n")},
		// Only the root's signalbox.yaml is the settings file.
		{Path: "team/signalbox.yaml", Data: []byte("sidecarListener: 127.0.0.1:15001\n")},
	})
	var got []string
	for _, f := range findings {
		got = append(got, f.String())
	}
	want := []string{
		"signalbox.yaml:1:18: error: sidecarListener: must be host:port with a port from 1 to 65535, e.g. 127.0.0.1:15001, got \"localhost\"",
		"signalbox.yaml:2:1: error: listener: unknown field",
		"team/signalbox.yaml:1:1: error: not a policy document (no kind)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if tree.Settings.SidecarListener != DefaultSidecarListener {
		t.Errorf("invalid settings must not apply: %+v", tree.Settings)
	}
}

// TestConcurrentLoad: the publisher and the CLI may load trees at the same time.
func TestConcurrentLoad(t *testing.T) {
	files := bookinfo(t, "virtual-service-reviews-80-20.yaml", "destination-rule-all.yaml", "bookinfo-gateway.yaml")
	done := make(chan int)
	for i := 0; i < 4; i++ {
		go func() {
			tree, findings := Load(files)
			if len(findings) > 0 {
				t.Error(findings)
			}
			done <- len(tree.Documents)
		}()
	}
	for i := 0; i < 4; i++ {
		if n := <-done; n != 7 {
			t.Errorf("%d documents, want 7", n)
		}
	}
}
