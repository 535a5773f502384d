package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signalbox/signalbox/demo"
	"github.com/signalbox/signalbox/internal/gen"
)

// diff between git revisions of a real repository: 3 on a change, 0 on none, 1 with the
// findings when a side does not compile, 2 for a revision that does not exist.
func TestDiffRevisions(t *testing.T) {
	dir := t.TempDir()
	repo, err := demo.InitRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	commit := func(msg string, canary int) string {
		t.Helper()
		files := map[string][]byte{}
		for _, f := range gen.Tree(3, canary) {
			files["policies/"+f.Path] = f.Data
		}
		sha, err := repo.CommitFiles(msg, files)
		if err != nil {
			t.Fatal(err)
		}
		return sha
	}
	first, err := repo.CommitFiles("a repository before signalbox", map[string][]byte{"README.md": []byte("mesh\n")})
	if err != nil {
		t.Fatal(err)
	}
	base := commit("base", 10)
	head := commit("shift the canary", 40)
	same, err := repo.CommitFiles("a comment compiles to nothing", map[string][]byte{"policies/services/svc-00000.yaml": []byte(
		"# owned by the reviews team\n" + gen.Service(0, 40))})
	if err != nil {
		t.Fatal(err)
	}
	broken, err := repo.CommitFiles("break it", map[string][]byte{"policies/services/svc-00001.yaml": []byte(
		strings.Replace(gen.Service(1, 40), "subset: v2}\n      weight", "subset: v9}\n      weight", 1))})
	if err != nil {
		t.Fatal(err)
	}
	diff := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"diff", "--repo", dir}, args...), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	code, out, _ := diff(base, head)
	if code != exitChanged || !strings.Contains(out, ": 3 traffic changes\n") ||
		!strings.Contains(out, "svc-00000.default:8080/v1 90%, svc-00000.default:8080/v2 10% → svc-00000.default:8080/v1 60%, svc-00000.default:8080/v2 40%") {
		t.Errorf("base..head: exit %d\n%s", code, out)
	}
	if code, out, _ := diff(head, same); code != exitOK || !strings.Contains(out, "no traffic change") {
		t.Errorf("head..same: exit %d\n%s", code, out)
	}
	code, _, errOut := diff(head, broken)
	if code != exitFindings || !strings.Contains(errOut, "does not compile") ||
		!strings.Contains(errOut, "policies/services/svc-00001.yaml:") || !strings.Contains(errOut, "SB0002") {
		t.Errorf("head..broken: exit %d\n%s", code, errOut)
	}
	// A revision without the policy directory has no policy tree. As a base it is the pull
	// request that adds the directory: compared as an empty tree, everything is a change. As a
	// head it is refused, as the publisher refuses such a commit.
	noDir := func(rev, sha, dir string) string {
		return "signalbox diff: " + rev + " (" + sha[:12] + ") has no policy tree: " + dir + ": no such directory\n"
	}
	if code, out, errOut := diff(first, base); code != exitChanged || errOut != strings.TrimSuffix(noDir(first, first, "policies"), "\n")+"; compared as an empty tree\n" ||
		!strings.Contains(out, "host added") {
		t.Errorf("first..base: exit %d\n%s%s", code, out, errOut)
	}
	if err := os.RemoveAll(filepath.Join(dir, "policies")); err != nil {
		t.Fatal(err)
	}
	deleted, err := repo.Commit("delete the policies")
	if err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := diff(head, deleted); code != exitFindings || errOut != noDir(deleted, deleted, "policies") || out != "" {
		t.Errorf("head..deleted: exit %d\n%s%s", code, out, errOut)
	}
	// A mistyped --dir: both sides are reported, exit 1, never "no traffic change".
	code, out, errOut = diff("--dir", "polices", base, head)
	if code != exitFindings || errOut != noDir(head, head, "polices")+noDir(base, base, "polices") || out != "" {
		t.Errorf("--dir polices: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := diff(head, "no-such-branch"); code != exitUsage {
		t.Errorf("unknown revision: exit %d\n%s", code, errOut)
	}
}
