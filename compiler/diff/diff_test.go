package diff_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/signalbox/signalbox/compiler"
	"github.com/signalbox/signalbox/compiler/diff"
	"github.com/signalbox/signalbox/internal/gen"
	"github.com/signalbox/signalbox/internal/golden"
	"github.com/signalbox/signalbox/schema"
	"github.com/signalbox/signalbox/source"
)

func compileDir(t testing.TB, dir string) *compiler.Snapshot {
	t.Helper()
	files, err := source.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return compileFiles(t, files)
}

func compileFiles(t testing.TB, files []schema.File) *compiler.Snapshot {
	t.Helper()
	snap, findings := compiler.CompileFiles(files)
	if snap == nil {
		t.Fatalf("does not compile: %v", findings)
	}
	return snap
}

// Each testdata/CASE holds a base and a head tree; every output format of their diff is golden
// (testdata/CASE/out.*). canary: a canary shift, a match narrowed, an endpoint replaced and a
// new VirtualService. settings: retries, a fault, connection pool and outlier detection. tcp:
// a gateway's TCP split shifted and its idle timeout changed. tlspassthrough: a passthrough
// listener's SNI split shifted, one server name routed no more and another routed anew.
// source: a header match turned into one for some proxies, and the last rule limited to
// others, which gives the rest the service's default route.
// sidecar: a Sidecar that limits team-a's proxies to their namespace's services.
func TestGolden(t *testing.T) {
	for _, c := range []string{"canary", "settings", "sidecar", "source", "tcp", "tlspassthrough"} {
		t.Run(c, func(t *testing.T) { checkGolden(t, filepath.Join("testdata", c)) })
	}
}

func checkGolden(t *testing.T, dir string) {
	base := compileDir(t, filepath.Join(dir, "base"))
	head := compileDir(t, filepath.Join(dir, "head"))
	r, err := diff.Compare(base, head)
	if err != nil {
		t.Fatal(err)
	}
	// Fixed names and versions: the golden files show the change, not the compiler's digests.
	r.Base, r.Head = diff.Side{Ref: "main", Version: "base-version"}, diff.Side{Ref: "HEAD", Version: "head-version"}
	if !r.Changed() {
		t.Fatal("no change reported")
	}
	for ext, write := range map[string]func(*bytes.Buffer) error{
		"txt":  func(b *bytes.Buffer) error { return r.WriteText(b) },
		"md":   func(b *bytes.Buffer) error { return r.WriteMarkdown(b) },
		"json": func(b *bytes.Buffer) error { return r.WriteJSON(b) },
	} {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatal(err)
		}
		golden.Check(t, filepath.Join(dir, "out."+ext), b.Bytes())
	}
}

// The same tree is no change; a snapshot read back from its file diffs like the original.
func TestNoChangeAndFiles(t *testing.T) {
	a := compileFiles(t, gen.Tree(20, 10))
	b := compileFiles(t, gen.Tree(20, 10))
	if r, err := diff.Compare(a, b); err != nil || r.Changed() {
		t.Fatalf("same tree: changed=%v err=%v", r != nil && r.Changed(), err)
	}
	c := compileFiles(t, gen.Tree(20, 30))
	data, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	fromFile, err := compiler.Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	r1, err := diff.Compare(a, c)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := diff.Compare(a, fromFile)
	if err != nil {
		t.Fatal(err)
	}
	var t1, t2 bytes.Buffer
	_ = r1.WriteText(&t1)
	_ = r2.WriteText(&t2)
	if t1.String() != t2.String() {
		t.Errorf("diff against the file differs:\n%s\n---\n%s", t1.String(), t2.String())
	}
	// 20 services, one weight change each; gateway routes send to the whole service: unchanged.
	if n := len(r1.Changes); n != 20 {
		t.Errorf("%d changes, want 20:\n%s", n, t1.String())
	}
}

// From an empty tree to three services: hosts, clusters, the gateway role and its listener
// are added; the reverse removes them. Nothing else is reported.
func TestAddedAndRemoved(t *testing.T) {
	empty := compileFiles(t, []schema.File{{Path: "signalbox.yaml", Data: []byte("sidecarListener: 127.0.0.1:15001\n")}})
	three := compileFiles(t, gen.Tree(3, 10))
	count := func(r *diff.Report) map[string]int {
		n := map[string]int{}
		for _, c := range r.Changes {
			n[c.What]++
		}
		return n
	}
	up, err := diff.Compare(empty, three)
	if err != nil {
		t.Fatal(err)
	}
	down, err := diff.Compare(three, empty)
	if err != nil {
		t.Fatal(err)
	}
	u, d := count(up), count(down)
	if u[diff.HostAdded] == 0 || u[diff.ClusterAdded] != 9 || u[diff.RoleAdded] == 0 || u[diff.ListenerAdded] == 0 {
		t.Errorf("empty → three: %v", u)
	}
	if d[diff.HostRemoved] != u[diff.HostAdded] || d[diff.ClusterRemoved] != 9 || d[diff.RoleRemoved] != u[diff.RoleAdded] {
		t.Errorf("three → empty: %v, the reverse of %v", d, u)
	}
	for what := range u {
		switch what {
		case diff.HostAdded, diff.ClusterAdded, diff.RoleAdded, diff.ListenerAdded:
		default:
			t.Errorf("unexpected change kind %q going up", what)
		}
	}
	var md bytes.Buffer
	if err := up.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(md.Bytes(), []byte("(not routed)")) {
		t.Errorf("the diagram should show the added hosts as not routed before:\n%s", md.String())
	}
}
