package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/signalbox/signalbox/demo"
	"github.com/signalbox/signalbox/internal/gen"
)

// TestDiffIgnoreUnknown: a repository keeping Kubernetes manifests beside its policies can be
// diffed with --ignore-unknown, as it is validated, and needs no flag once signalbox.yaml says
// ignoreUnknown.
func TestDiffIgnoreUnknown(t *testing.T) {
	dir := t.TempDir()
	repo, err := demo.InitRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	commit := func(msg string, canary int, extra map[string][]byte) string {
		t.Helper()
		files := map[string][]byte{"policies/deploy.yaml": []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: reviews}\n")}
		for _, f := range gen.Tree(2, canary) {
			files["policies/"+f.Path] = f.Data
		}
		for k, v := range extra {
			files[k] = v
		}
		sha, err := repo.CommitFiles(msg, files)
		if err != nil {
			t.Fatal(err)
		}
		return sha
	}
	base := commit("base", 10, nil)
	head := commit("shift the canary", 40, nil)
	diff := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"diff", "--repo", dir}, args...), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	if code, _, errOut := diff(base, head); code != exitFindings || !strings.Contains(errOut, "policies/deploy.yaml:2:7: error: Deployment default/reviews") {
		t.Errorf("without the flag: exit %d\n%s", code, errOut)
	}
	if code, out, errOut := diff("--ignore-unknown", base, head); code != exitChanged || !strings.Contains(out, "svc-00000.default:8080/v2 10% → ") {
		t.Errorf("--ignore-unknown: exit %d\n%s%s", code, out, errOut)
	}
	settled := commit("say it once", 50, map[string][]byte{"policies/signalbox.yaml": []byte("ignoreUnknown: true\n")})
	if code, out, errOut := diff(head, settled); code != exitFindings {
		// The base still has no settings: its Deployment is an error there.
		t.Errorf("head..settled: exit %d\n%s%s", code, out, errOut)
	}
	again := commit("shift again", 60, map[string][]byte{"policies/signalbox.yaml": []byte("ignoreUnknown: true\n")})
	if code, out, errOut := diff(settled, again); code != exitChanged || !strings.Contains(out, "svc-00000.default:8080/v2 50% → ") {
		t.Errorf("settled..again: exit %d\n%s%s", code, out, errOut)
	}
}
