package e2e

import (
	"testing"

	"github.com/signalbox/signalbox/demo"
)

// reviewsMesh is the tree the pipeline tests commit to: one service, reviews, whose workloads
// v1, v2 and v3 listen on ephemeral loopback ports, in a real git repository.
type reviewsMesh struct {
	t        *testing.T
	backends []*demo.Backend
	repo     *demo.Repo
}

func newReviewsMesh(t *testing.T) *reviewsMesh {
	t.Helper()
	m := &reviewsMesh{t: t}
	for _, v := range []string{"v1", "v2", "v3"} {
		b := &demo.Backend{App: "reviews", Version: v, Addr: "127.0.0.1:0"}
		if err := b.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		m.backends = append(m.backends, b)
	}
	repo, err := demo.InitRepo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m.repo = repo
	return m
}

// commit writes the tree with this route for reviews and commits it.
func (m *reviewsMesh) commit(route, msg string) string {
	m.t.Helper()
	for p, data := range meshFiles(m.backends, route) {
		if err := m.repo.WriteFile(p, []byte(data)); err != nil {
			m.t.Fatal(err)
		}
	}
	sha, err := m.repo.Commit(msg)
	if err != nil {
		m.t.Fatal(err)
	}
	return sha
}
