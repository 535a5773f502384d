package publisher

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Every publish is kept under the state dir (a snapshot file named by its version, and an
// index line with commit, author and time); /history lists it newest first, and a publisher
// restarted on the same dir serves the same version and keeps the history.
func TestStateDirHistoryAndRestart(t *testing.T) {
	r := newGitRepo(t)
	first := r.commit("default tree", defaultPolicies(t))
	state := t.TempDir()
	p := start(t, Config{Repo: r.dir, StateDir: state})
	v1 := p.Status().Version
	second := r.commit("canary", canary(t))
	if err := p.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	v2 := p.Status().Version

	_, body := httpGet(t, p, "/history")
	var hist []HistoryEntry
	if err := json.Unmarshal([]byte(body), &hist); err != nil {
		t.Fatal(err)
	}
	if got := []string{hist[0].Version, hist[1].Version}; len(hist) != 2 || !slices.Equal(got, []string{v2, v1}) {
		t.Fatalf("/history %s, want %s then %s", body, v2, v1)
	}
	if hist[0].Commit != second || hist[1].Commit != first || hist[0].Author != "Ada Operator <ada@example.com>" || hist[0].CommittedAt.IsZero() {
		t.Errorf("/history entries: %+v", hist)
	}
	for _, v := range []string{v1, v2} {
		if _, err := os.Stat(filepath.Join(state, "snapshots", v+".snap")); err != nil {
			t.Errorf("snapshot of %s not stored: %v", v, err)
		}
	}

	again := start(t, Config{Repo: r.dir, StateDir: state})
	if st := again.Status(); st.Version != v2 || st.Commit != second {
		t.Errorf("restarted publisher serves %s at %s, want %s at %s", st.Version, st.Commit, v2, second)
	}
	if h := again.History(); len(h) != 2 || h[0] != hist[0] {
		t.Errorf("history after restart: %+v", h)
	}
	disk, err := ReadHistory(state)
	if err != nil || len(disk) != 2 {
		t.Errorf("ReadHistory: %v %+v", err, disk)
	}
}

// rollback finds the commits after the one that published a version and, with --commit,
// restores the policy directory as it was in one new commit; files outside it stay.
func TestRollback(t *testing.T) {
	r := newGitRepo(t)
	first := r.commit("default tree", defaultPolicies(t))
	v1, _ := compiledVersion(t, r, first)
	second := r.commit("canary", canary(t))
	third := r.commit("docs", map[string][]byte{"README.md": []byte("docs\n")})

	plan, err := RollbackPlan(r.dir, "main", first)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(plan, []string{third, second}) {
		t.Errorf("plan %v, want [%s %s]", plan, third, second)
	}
	if cmd := RevertCommand(plan, v1); cmd != "git revert --no-commit "+third+" "+second+` && git commit -m "Revert to `+v1+`"` {
		t.Errorf("command %q", cmd)
	}
	sha, err := CommitRollback(r.dir, "policies", first, v1, object.Signature{Name: "Ops", Email: "ops@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := compiledVersion(t, r, sha); got != v1 {
		t.Errorf("the revert compiles to %s, want %s", got, v1)
	}
	c, err := r.repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		t.Fatal(err)
	}
	if f, err := c.File("README.md"); err != nil || f == nil {
		t.Errorf("README.md outside the policy dir was not kept: %v", err)
	}
	if !strings.HasPrefix(c.Message, "Revert to "+v1+"\n") {
		t.Errorf("message %q", c.Message)
	}
	if _, err := CommitRollback(r.dir, "policies", first, v1, object.Signature{Name: "Ops"}); err == nil {
		t.Error("a second rollback to the same tree made an empty commit")
	}
	if _, err := RollbackPlan(r.dir, "main", "0000000000000000000000000000000000000000"); err == nil {
		t.Error("a commit not on the branch gave a plan")
	}
}
