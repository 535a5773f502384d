package e2e

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/signalbox/signalbox/publisher"
)

// `signalbox wait --version` that times out says whether the publisher ever published that
// version: one replaced since comes back only with a commit of the same tree, and one never
// published is a commit not fetched yet (or a typo).
func TestWaitOnAReplacedOrUnknownVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the signalbox binary")
	}
	repo, _ := defaultRepo(t)
	pub := startPublisher(t, publisher.Config{Repo: repo.Dir})
	first := pub.Status().Version
	commitReviewsAllToV2(t, repo)
	if err := pub.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	second := pub.Status().Version
	if second == first {
		t.Fatalf("the commit did not change the version (%s)", first)
	}
	for version, want := range map[string]string{
		first:          "version " + first + " was published for commit ",
		"0123456789ab": "the publisher has never published version 0123456789ab",
	} {
		out, err := exec.Command(signalboxBinary(t), "wait", "--admin", pub.AdminAddr(), "--version", version, "--timeout", "300ms").CombinedOutput()
		if code := exitCode(err); code != 2 || !strings.Contains(string(out), want) {
			t.Errorf("wait --version %s: exit %d\n%s\nwant exit 2 and %q", version, code, out, want)
		}
		if version == first && !strings.Contains(string(out), "replaced since (by "+second+")") {
			t.Errorf("wait --version %s: does not name %s as its replacement:\n%s", version, second, out)
		}
	}
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
