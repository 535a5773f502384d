package proxy

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Istio's path normalisation BASE (normalize_path), and MERGE_SLASHES (merge_slashes too),
// as Envoy applies them: the expectations are the ones Istio checks its proxies against.
func TestCanonicalPath(t *testing.T) {
	base := pathNormalization{normalize: true}
	merge := pathNormalization{normalize: true, mergeSlashes: true}
	for _, tc := range []struct {
		in, base, merge string
	}{
		{"/", "/", "/"},
		{"/app/", "/app/", "/app/"},
		{"/app/../admin", "/admin", "/admin"},
		{"/app", "/app", "/app"},
		{"/app//", "/app//", "/app/"},
		{"/app/%2f", "/app/%2f", "/app/%2f"},
		{"/app%2f/", "/app%2f/", "/app%2f/"},
		{"/xyz%30..//abc", "/xyz0..//abc", "/xyz0../abc"},
		{"/app/%2E./admin", "/admin", "/admin"},
		{`/app\admin`, "/app/admin", "/app/admin"},
		{`/app/\/\/\admin`, "/app//////admin", "/app/admin"},
		{`/%2Fapp%5cadmin%5Cabc`, `/%2Fapp%5cadmin%5Cabc`, `/%2Fapp%5cadmin%5Cabc`},
		{`/%5Capp%2f%5c%2F%2e%2e%2fadmin%5c\abc`, `/%5Capp%2f%5c%2F..%2fadmin%5c/abc`, `/%5Capp%2f%5c%2F..%2fadmin%5c/abc`},
		{"/app//../admin", "/app/admin", "/app/admin"},
		{"/app//../../admin", "/admin", "/admin"},
		{"/..", "/", "/"},
		{"/a/.", "/a/", "/a/"},
		{"/a/./b/..", "/a/", "/a/"},
		{"/a..b/.c/%zz", "/a..b/.c/%zz", "/a..b/.c/%zz"},
		{"/%7euser/%41", "/~user/A", "/~user/A"},
	} {
		if got, _ := canonicalPath(tc.in, base); got != tc.base {
			t.Errorf("BASE %q: %q, want %q", tc.in, got, tc.base)
		}
		if got, _ := canonicalPath(tc.in, merge); got != tc.merge {
			t.Errorf("MERGE_SLASHES %q: %q, want %q", tc.in, got, tc.merge)
		}
	}
	if _, changed := canonicalPath("/plain/path-1.txt", base); changed {
		t.Error("a canonical path reported as changed")
	}
}

// Through the proxy: routes match the canonical path and the upstream gets it, so a path that
// climbs out of /public reaches /admin's route as /admin; a listener without normalize_path
// routes the path as it came, as Envoy does.
func TestNormalizePathRoutes(t *testing.T) {
	admin, other := backend(t, "admin"), backend(t, "other")
	routes := routeConfiguration("r", vhost("all", []string{"*"}, pathRoute("/admin", "admin"), prefixRoute("/", "other")))
	raw := httpListener("raw", "127.0.0.1", 15002, "r")
	normalizing := func(name string, port uint32, edit func(*hcmv3.HttpConnectionManager)) types.Resource {
		return hcmOf(httpListener(name, "127.0.0.1", port, "r"), func(m *hcmv3.HttpConnectionManager) {
			m.NormalizePath = wrapperspb.Bool(true)
			m.PathWithEscapedSlashesAction = hcmv3.HttpConnectionManager_KEEP_UNCHANGED
			edit(m)
		})
	}
	_, p, _ := setup(t, sidecar{routes: routes, version: "r1",
		clusters: map[string][]*httptest.Server{"admin": {admin}, "other": {other}},
		listeners: []types.Resource{raw,
			normalizing("base", 15003, func(*hcmv3.HttpConnectionManager) {}),
			normalizing("merge", 15004, func(m *hcmv3.HttpConnectionManager) { m.MergeSlashes = true })}})
	// Raw request lines: an HTTP client library would clean the path itself.
	send := func(addr, target string) (backend, path string) {
		t.Helper()
		c := dialProxy(t, addr)
		c.SetDeadline(time.Now().Add(testTimeout))
		io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: svc\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%s %s: %v", addr, target, err)
		}
		resp.Body.Close()
		return resp.Header.Get("X-Backend"), resp.Header.Get("X-Seen-Path")
	}
	for _, tc := range []struct {
		listener, target, backend, path string
	}{
		{"raw", "/public/../admin?x=1", "other", "/public/../admin?x=1"},
		{"base", "/public/../admin?x=1", "admin", "/admin?x=1"},
		{"base", "/public/%2e%2e/admin", "admin", "/admin"},
		{"base", `/public\..\admin`, "admin", "/admin"},
		{"base", "/public/%2e%2e%2fadmin", "other", "/public/..%2fadmin"},
		{"base", "//admin", "other", "//admin"},
		{"merge", "//admin", "admin", "/admin"},
		{"base", "/admin#frag", "admin", "/admin"},
	} {
		be, path := send(p.ListenerAddr(tc.listener), tc.target)
		if be != tc.backend || path != tc.path {
			t.Errorf("%s %q: served by %q as %q, want %q as %q", tc.listener, tc.target, be, path, tc.backend, tc.path)
		}
	}
}

// FuzzCanonicalPath: normalising never panics, keeps the path absolute, and leaves no dot
// segment, no backslash and (merging) no run of slashes.
func FuzzCanonicalPath(f *testing.F) {
	for _, s := range []string{"/", "/a/../b", `/%5Capp%2f%5c%2F%2e%2e%2fadmin%5c\abc`, "/a//./b/%2E%2e/", "/%zz/%4", "/.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		if path == "" || path[0] != '/' {
			return
		}
		for _, pn := range []pathNormalization{{normalize: true}, {normalize: true, mergeSlashes: true}, {mergeSlashes: true}} {
			out, _ := canonicalPath(path, pn)
			if out == "" || out[0] != '/' {
				t.Fatalf("%+v %q: %q is not absolute", pn, path, out)
			}
			// Not idempotent as a whole, like Envoy's: one decoding pass can make an escape
			// ("/%2%44" is "/%2D"), which a second pass would decode.
			if pn.mergeSlashes && strings.Contains(out, "//") {
				t.Fatalf("%q: %q keeps a run of slashes", path, out)
			}
			if !pn.normalize {
				continue
			}
			if again := removeDotSegments(out); again != out {
				t.Fatalf("%q: %q loses more dot segments: %q", path, out, again)
			}
			if strings.Contains(out, `\`) {
				t.Fatalf("%q: %q keeps a backslash", path, out)
			}
			for _, seg := range strings.Split(out[1:], "/") {
				if seg == "." || seg == ".." {
					t.Fatalf("%q: %q keeps a dot segment", path, out)
				}
			}
		}
	})
}
