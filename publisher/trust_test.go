package publisher

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

func postHook(t *testing.T, p *Publisher, body string, header map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+p.AdminAddr()+"/hooks/git", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func sign(secret, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// A GitHub push webhook with a shared secret: a wrong signature is refused with 401, a push
// to another branch is ignored, a signed push to the followed branch fetches at once.
func TestWebhookSignatureAndBranch(t *testing.T) {
	r := newGitRepo(t)
	r.commit("default tree", defaultPolicies(t))
	p := start(t, Config{Repo: r.dir, WebhookSecret: "s3cret"})
	second := r.commit("canary", canary(t))

	push := `{"ref":"refs/heads/main","after":"` + second + `"}`
	if code := postHook(t, p, push, map[string]string{"X-Hub-Signature-256": sign("wrong", push)}); code != http.StatusUnauthorized {
		t.Errorf("bad signature: %d, want 401", code)
	}
	if code := postHook(t, p, push, nil); code != http.StatusUnauthorized {
		t.Errorf("no signature: %d, want 401", code)
	}
	other := `{"ref":"refs/heads/feature"}`
	if code := postHook(t, p, other, map[string]string{"X-Hub-Signature-256": sign("s3cret", other), "X-GitHub-Event": "push"}); code != http.StatusOK {
		t.Errorf("push to another branch: %d, want 200 (ignored)", code)
	}
	time.Sleep(100 * time.Millisecond)
	if got := p.Status().Commit; got == second {
		t.Errorf("a push to another branch (or a refused hook) fetched %s", got)
	}
	if code := postHook(t, p, push, map[string]string{"X-Hub-Signature-256": sign("s3cret", push), "X-GitHub-Event": "push"}); code != http.StatusAccepted {
		t.Errorf("signed push: %d, want 202", code)
	}
	eventually(t, "the hook to publish "+second, func() bool { return p.Status().Commit == second })
}

// newKey makes a PGP key and writes its armored public key to a keyring file.
func newKey(t *testing.T, name string) (*openpgp.Entity, string) {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	path := filepath.Join(t.TempDir(), name+".asc")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return e, path
}

// signedCommit commits files signed with key (nil: unsigned).
func (r *gitRepo) signedCommit(msg string, files map[string][]byte, key *openpgp.Entity) string {
	r.t.Helper()
	wt, err := r.repo.Worktree()
	if err != nil {
		r.t.Fatal(err)
	}
	for name, data := range files {
		p := filepath.Join(r.dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			r.t.Fatal(err)
		}
		if _, err := wt.Add(name); err != nil {
			r.t.Fatal(err)
		}
	}
	h, err := wt.Commit(msg, &git.CommitOptions{
		Author:  &object.Signature{Name: "Ada Operator", Email: "ada@example.com", When: time.Now()},
		SignKey: key, AllowEmptyCommits: true,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return h.String()
}

// With --require-signed-by, only commits signed by a key of the keyring are published; an
// unsigned commit and one signed by another key are reported in last_error and the last
// signed version keeps serving.
func TestRequireSignedBy(t *testing.T) {
	trusted, keyring := newKey(t, "release")
	stranger, _ := newKey(t, "stranger")
	r := newGitRepo(t)
	first := r.signedCommit("default tree", defaultPolicies(t), trusted)
	p := start(t, Config{Repo: r.dir, RequireSignedBy: keyring})
	if st := p.Status(); st.Commit != first || st.Version == "" {
		t.Fatalf("signed first commit not published: %+v", st)
	}
	served := p.Status().Version

	for _, c := range []struct {
		name string
		key  *openpgp.Entity
	}{{"unsigned", nil}, {"signed by a stranger", stranger}} {
		sha := r.signedCommit(c.name, canary(t), c.key)
		if err := p.Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
		st := p.Status()
		if st.Version != served || st.Commit != first {
			t.Errorf("%s: published %s at %s", c.name, st.Version, st.Commit)
		}
		if st.LastError == nil || st.LastError.Commit != sha || !strings.Contains(st.LastError.Message, "not signed by a key in") {
			t.Errorf("%s: last_error %+v", c.name, st.LastError)
		}
	}
	third := r.signedCommit("canary, signed", canary(t), trusted)
	if err := p.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := p.Status(); st.Commit != third || st.LastError != nil {
		t.Errorf("signed commit: %+v", st)
	}
}

// GitHub's form-encoded delivery (payload=JSON) is read the same way; a ping is acknowledged.
func TestWebhookFormPayloadAndPing(t *testing.T) {
	r := newGitRepo(t)
	r.commit("default tree", defaultPolicies(t))
	p := start(t, Config{Repo: r.dir})
	second := r.commit("canary", canary(t))

	post := func(body, contentType, event string) int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+p.AdminAddr()+"/hooks/git", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("X-GitHub-Event", event)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(`{"zen":"hi"}`, "application/json", "ping"); code != http.StatusOK {
		t.Errorf("ping: %d, want 200", code)
	}
	form := url.Values{"payload": {`{"ref":"refs/heads/feature"}`}}.Encode()
	if code := post(form, "application/x-www-form-urlencoded", "push"); code != http.StatusOK {
		t.Errorf("form push to another branch: %d, want 200 (ignored)", code)
	}
	form = url.Values{"payload": {`{"ref":"refs/heads/main"}`}}.Encode()
	if code := post(form, "application/x-www-form-urlencoded", "push"); code != http.StatusAccepted {
		t.Errorf("form push to main: %d, want 202", code)
	}
	eventually(t, "the hook to publish "+second, func() bool { return p.Status().Commit == second })
}
