package publisher

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signalbox/signalbox/internal/gitrepo"
	"github.com/signalbox/signalbox/schema"
	"github.com/signalbox/signalbox/source"
)

// canary moves the default reviews route from v1 to v2: a valid change of one route.
func canary(t *testing.T) map[string][]byte {
	t.Helper()
	vs := defaultPolicies(t)["policies/reviews.yaml"]
	changed := bytes.Replace(vs, []byte("subset: v1\n      weight: 100"), []byte("subset: v2\n      weight: 100"), 1)
	if bytes.Equal(changed, vs) {
		t.Fatal("the default reviews.yaml no longer has the route this test edits")
	}
	return map[string][]byte{"policies/reviews.yaml": changed}
}

// The whole path: commits in a real repository, compiled by the compiler, served to a real
// ADS client that ACKs, with force pushes and commits that change nothing compiled.
func TestFollowsTheBranch(t *testing.T) {
	r := newGitRepo(t)
	first := r.commit("default tree", defaultPolicies(t))
	v1, findings := compiledVersion(t, r, first)
	if v1 == "" {
		t.Fatalf("the default tree does not compile: %v", findings)
	}
	p := start(t, Config{Repo: r.dir})
	if st := p.Status(); st.Version != v1 || st.Commit != first || st.LastError != nil {
		t.Fatalf("after the first sync: %+v, want version %s commit %s", st, v1, first)
	}
	if code, body := httpGet(t, p, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	c := dialADS(t, p.XDSAddr(), "productpage-1", map[string]string{"app": "productpage"}, nil, nil)
	inSync := func(version string) func() bool {
		return func() bool { px, _ := proxyStatus(p, "productpage-1"); return px.InSync && px.Version == version }
	}
	eventually(t, "the proxy on the first version", inSync(v1))

	second := r.commit("reviews: all to v2", canary(t))
	v2, _ := compiledVersion(t, r, second)
	if err := p.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := p.Status(); st.Version != v2 || st.Commit != second {
		t.Fatalf("after the second commit: version %s commit %s, want %s %s", st.Version, st.Commit, v2, second)
	}
	eventually(t, "the proxy on the second version", inSync(v2))

	// A commit outside what the compiler reads moves the commit, not the version.
	third := r.commit("docs", map[string][]byte{"README.md": []byte("# policies\n"), "policies/NOTES.txt": []byte("n\n")})
	before := c.total()
	if err := p.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := p.Status(); st.Version != v2 || st.Commit != third {
		t.Fatalf("after a docs commit: version %s commit %s, want %s %s", st.Version, st.Commit, v2, third)
	}
	time.Sleep(100 * time.Millisecond)
	if c.total() != before {
		t.Errorf("a docs commit pushed %d responses", c.total()-before)
	}

	// A force push back to the first commit serves the first version again.
	r.forcePush(first)
	if err := p.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := p.Status(); st.Version != v1 || st.Commit != first {
		t.Fatalf("after a force push: version %s commit %s, want %s %s", st.Version, st.Commit, v1, first)
	}
	eventually(t, "the proxy back on the first version", inSync(v1))

	var hist []HistoryEntry
	_, body := httpGet(t, p, "/history")
	if err := json.Unmarshal([]byte(body), &hist); err != nil {
		t.Fatal(err)
	}
	if v1 != v2 {
		if len(hist) != 3 || hist[0].Commit != first || hist[1].Commit != second || hist[2].Commit != first || hist[0].Version != v1 {
			t.Errorf("history, newest first: %+v", hist)
		}
	} else if len(hist) != 1 {
		t.Errorf("history of one version: %+v", hist)
	}
}

// An invalid commit is not published: the last good snapshot keeps serving and last_error
// names the commit with a positioned message.
func TestInvalidCommitIsNotPublished(t *testing.T) {
	r := newGitRepo(t)
	good := r.commit("default tree", defaultPolicies(t))
	p := start(t, Config{Repo: r.dir})
	c := dialADS(t, p.XDSAddr(), "sidecar-1", nil, nil, nil)
	eventually(t, "in sync", func() bool { px, _ := proxyStatus(p, "sidecar-1"); return px.InSync })
	version := p.Status().Version

	bad := r.commit("broken", map[string][]byte{"policies/broken.yaml": []byte(
		"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: broken\nspec: [\n")})
	if v, findings := compiledVersion(t, r, bad); !schema.HasErrors(findings) {
		t.Skipf("the schema loader accepts this tree (version %s): nothing to reject yet", v)
	}
	before := c.total()
	if err := p.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	st := p.Status()
	if st.Version != version || st.Commit != good {
		t.Errorf("the invalid commit changed what is served: %s %s", st.Version, st.Commit)
	}
	if st.LastError == nil || st.LastError.Commit != bad || !strings.Contains(st.LastError.Message, "broken.yaml:") {
		t.Fatalf("last_error %+v, want commit %s and a message positioned in broken.yaml", st.LastError, bad)
	}
	t.Logf("last_error.message: %s", st.LastError.Message)
	if !positioned(st.LastError.Message, "broken.yaml") {
		t.Errorf("message %q is not FILE:LINE:COL positioned", st.LastError.Message)
	}
	time.Sleep(100 * time.Millisecond)
	if c.total() != before {
		t.Errorf("an invalid commit pushed %d responses", c.total()-before)
	}
	if _, m := httpGet(t, p, "/metrics"); !strings.Contains(m, "signalbox_compile_errors_total 1\n") {
		t.Errorf("metrics:\n%s", m)
	}

	// The fix clears last_error.
	fixed := r.commit("fix", map[string][]byte{"policies/broken.yaml": nil})
	if err := p.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := p.Status(); st.LastError != nil || st.Commit != fixed || st.Version != version {
		t.Errorf("after the fix: %+v", st)
	}
}

func positioned(msg, file string) bool {
	i := strings.Index(msg, file+":")
	if i < 0 {
		return false
	}
	var line, col int
	rest := msg[i+len(file)+1:]
	n, _ := fmt.Sscanf(rest, "%d:%d", &line, &col)
	return n == 2 && line > 0 && col > 0
}

// A tree the source refuses (a file over the size limit) is rejected like one that does not
// compile; a first commit that is rejected leaves the publisher up but unhealthy.
func TestRejectedFirstCommit(t *testing.T) {
	r := newGitRepo(t)
	files := defaultPolicies(t)
	files["policies/huge.yaml"] = make([]byte, source.MaxFileSize+1)
	bad := r.commit("huge", files)
	p := start(t, Config{Repo: r.dir})

	st := p.Status()
	if st.Version != "" || st.LastError == nil || st.LastError.Commit != bad || !strings.Contains(st.LastError.Message, "huge.yaml: file is") {
		t.Fatalf("status %+v", st)
	}
	if code, _ := httpGet(t, p, "/healthz"); code != http.StatusServiceUnavailable {
		t.Errorf("/healthz with nothing published: %d, want 503", code)
	}
	if _, m := httpGet(t, p, "/metrics"); strings.Contains(m, "signalbox_current_version_info") {
		t.Errorf("metrics name a current version before any publish:\n%s", m)
	}

	// A proxy that connects while nothing is published waits, then gets the first good tree.
	c := dialADS(t, p.XDSAddr(), "early-1", nil, nil, nil)
	eventually(t, "early-1 to connect", func() bool { px, _ := proxyStatus(p, "early-1"); return px.Connected })
	if c.total() != 0 {
		t.Errorf("a proxy got %d responses before anything was published", c.total())
	}

	good := r.commit("smaller", map[string][]byte{"policies/huge.yaml": nil})
	if err := p.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := p.Status(); st.Version == "" || st.Commit != good || st.LastError != nil {
		t.Errorf("after the fix: %+v", st)
	}
	eventually(t, "early-1 in sync", func() bool { px, _ := proxyStatus(p, "early-1"); return px.InSync })
	if code, _ := httpGet(t, p, "/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
}

// POST /hooks/git fetches at once, and the poll loop follows on its own.
func TestHookAndPoll(t *testing.T) {
	r := newGitRepo(t)
	r.commit("default tree", defaultPolicies(t))
	p := start(t, Config{Repo: r.dir})

	second := r.commit("canary", canary(t))
	resp, err := http.Post("http://"+p.AdminAddr()+"/hooks/git", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("POST /hooks/git: %d, want 202", resp.StatusCode)
	}
	eventually(t, "the hook to publish "+second, func() bool { return p.Status().Commit == second })

	polled := start(t, Config{Repo: r.dir, Poll: 20 * time.Millisecond})
	third := r.commit("docs", map[string][]byte{"README.md": []byte("x\n")})
	eventually(t, "the poll to see "+third, func() bool { return polled.Status().Commit == third })
}

// A URL is cloned into memory and fetched (here over smart HTTP from a real upload-pack on
// loopback); fetch failures keep the last snapshot serving.
func TestFollowsARemote(t *testing.T) {
	r := newGitRepo(t)
	first := r.commit("default tree", defaultPolicies(t))
	srv, _ := gitrepo.NewHTTPServer(r.repo, "", "")
	defer srv.Close()
	p := start(t, Config{Repo: srv.URL + "/acme/policies.git"})
	if st := p.Status(); st.Commit != first || st.Version == "" {
		t.Fatalf("status %+v", st)
	}
	version := p.Status().Version

	second := r.commit("canary", canary(t))
	if err := p.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := p.Status(); st.Commit != second {
		t.Fatalf("after a commit: %+v", st)
	}
	r.forcePush(first)
	if err := p.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := p.Status(); st.Commit != first || st.Version != version {
		t.Fatalf("after a force push: %+v", st)
	}

	// The remote goes away: Sync fails, the snapshot keeps serving, last_error says why.
	srv.Close()
	if err := p.Sync(t.Context()); err == nil {
		t.Fatal("Sync from a missing remote succeeded")
	}
	st := p.Status()
	if st.Version != version || st.LastError == nil || st.LastError.Commit != "" || st.LastError.Message == "" {
		t.Errorf("after a failed fetch: %+v", st)
	}
	if _, m := httpGet(t, p, "/metrics"); !strings.Contains(m, "signalbox_fetch_errors_total 1\n") {
		t.Errorf("metrics:\n%s", m)
	}
}

// A private repository over smart HTTP (upload-pack behind basic auth, on loopback, no git
// binary): followed with a token file re-read at every fetch, so a rotated token is picked up;
// a token the server no longer takes fails the fetch, names the cause without the secret, and
// the last snapshot keeps serving.
func TestFollowsAPrivateRemoteOverHTTP(t *testing.T) {
	r := newGitRepo(t)
	first := r.commit("default tree", defaultPolicies(t))
	srv, setPassword := gitrepo.NewHTTPServer(r.repo, "ci", "token-one")
	defer srv.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeToken := func(tok string) {
		if err := os.WriteFile(tokenFile, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeToken("token-one")
	p := start(t, Config{Repo: srv.URL + "/acme/policies.git", GitAuth: source.GitAuth{Username: "ci", TokenFile: tokenFile}})
	if st := p.Status(); st.Commit != first || st.Version == "" {
		t.Fatalf("status %+v", st)
	}

	second := r.commit("canary", canary(t))
	if err := p.Sync(t.Context()); err != nil || p.Status().Commit != second {
		t.Fatalf("after a commit: %v, %+v", err, p.Status())
	}
	version := p.Status().Version

	setPassword("token-two") // the token is rotated: the server first, then the mounted file
	writeToken("token-two")
	r.forcePush(first)
	if err := p.Sync(t.Context()); err != nil || p.Status().Commit != first {
		t.Fatalf("after rotating the token and a force push: %v, %+v", err, p.Status())
	}
	r.forcePush(second)
	if err := p.Sync(t.Context()); err != nil || p.Status().Version != version {
		t.Fatalf("back to the canary: %v, %+v", err, p.Status())
	}

	setPassword("token-three") // revoked, and the file not updated
	err := p.Sync(t.Context())
	st := p.Status()
	if err == nil || st.Version != version || st.LastError == nil || !strings.Contains(st.LastError.Message, "authentication required") {
		t.Fatalf("with a revoked token: %v, %+v", err, st)
	}
	if strings.Contains(st.LastError.Message, "token-two") {
		t.Errorf("last_error shows the token: %s", st.LastError.Message)
	}
}
