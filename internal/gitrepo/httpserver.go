package gitrepo

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	"github.com/go-git/go-git/v5"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
)

// NewHTTPServer serves repo read-only over git's smart HTTP protocol, as a hosted private
// repository does: go-git's own upload-pack behind HTTP basic auth (none when user is empty),
// on a loopback port, with no git binary. Tests clone and fetch from it with and without
// credentials; SetPassword changes the password, as a rotated token does.
func NewHTTPServer(repo *git.Repository, user, password string) (*httptest.Server, func(password string)) {
	h := &smartHTTP{storer: repo.Storer, user: user}
	h.password.Store(&password)
	return httptest.NewServer(h), func(p string) { h.password.Store(&p) }
}

type smartHTTP struct {
	storer   storer.Storer
	user     string
	password atomic.Pointer[string]
}

type oneRepo struct{ s storer.Storer }

func (l oneRepo) Load(*transport.Endpoint) (storer.Storer, error) { return l.s, nil }

func (h *smartHTTP) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if h.user != "" {
		if u, p, ok := req.BasicAuth(); !ok || u != h.user || p != *h.password.Load() {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
	}
	ep, err := transport.NewEndpoint("http://" + req.Host + req.URL.Path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	sess, err := server.NewServer(oneRepo{h.storer}).NewUploadPackSession(ep, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer sess.Close()
	switch {
	case req.Method == http.MethodGet && req.URL.Query().Get("service") == "git-upload-pack":
		refs, err := sess.AdvertisedReferencesContext(req.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		refs.Prefix = [][]byte{[]byte("# service=git-upload-pack"), pktline.Flush}
		w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
		refs.Encode(w)
	case req.Method == http.MethodPost && bytes.HasSuffix([]byte(req.URL.Path), []byte("/git-upload-pack")):
		up, err := readUploadPackRequest(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resp, err := sess.UploadPack(req.Context(), up)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/x-git-upload-pack-result")
		resp.Encode(w)
	default:
		http.NotFound(w, req)
	}
}

// readUploadPackRequest decodes what a stateless-RPC client posts: the wants and capabilities
// up to a flush, then "have" lines, then "done".
func readUploadPackRequest(req *http.Request) (*packp.UploadPackRequest, error) {
	up := packp.NewUploadPackRequest()
	if err := up.UploadRequest.Decode(req.Body); err != nil {
		return nil, err
	}
	return up, readHaves(req.Body, up)
}

// readHaves reads the "have" lines that follow the wants, up to "done" (go-git's decoder
// stops at the wants' flush).
func readHaves(r io.Reader, up *packp.UploadPackRequest) error {
	sc := pktline.NewScanner(r)
	for sc.Scan() {
		line := bytes.TrimSuffix(sc.Bytes(), []byte("\n"))
		if bytes.Equal(line, []byte("done")) {
			return nil
		}
		if h, ok := bytes.CutPrefix(line, []byte("have ")); ok {
			up.Haves = append(up.Haves, plumbing.NewHash(string(h)))
		}
	}
	return sc.Err()
}
