package proxy

import (
	"net/http"
	"strings"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// Path normalisation, as Envoy's connection manager does it with normalize_path (and
// merge_slashes) before routing and before any filter: what routes, RBAC and the upstream see
// is the canonical path, so "/public/../admin" cannot step around a rule on "/admin". Istio
// turns it on for every sidecar and gateway (its default path normalisation, BASE).
//
// Envoy canonicalises with Chromium's URL library; this follows it where it matters for
// matching: backslashes become slashes, percent-encoded unreserved characters (letters,
// digits, "-", ".", "_", "~") are decoded, "." and ".." segments are removed as RFC 3986
// section 5.2.4 does, and a fragment is dropped. Other escapes (%2F, %5C among them) stay as
// they came: path_with_escaped_slashes_action KEEP_UNCHANGED, Envoy's and Istio's default.

// pathNormalization is what a connection manager asks.
type pathNormalization struct {
	normalize, mergeSlashes bool
}

// decodePathNormalization reads normalize_path, merge_slashes and
// path_with_escaped_slashes_action (only keeping escaped slashes unchanged is supported).
func decodePathNormalization(p fieldPath, m *hcmv3.HttpConnectionManager) (pathNormalization, error) {
	switch a := m.GetPathWithEscapedSlashesAction(); a {
	case hcmv3.HttpConnectionManager_IMPLEMENTATION_SPECIFIC_DEFAULT, hcmv3.HttpConnectionManager_KEEP_UNCHANGED:
	default:
		return pathNormalization{}, p.field("path_with_escaped_slashes_action").errorf("%s is not supported (only KEEP_UNCHANGED)", a)
	}
	return pathNormalization{normalize: m.GetNormalizePath().GetValue(), mergeSlashes: m.GetMergeSlashes()}, nil
}

// normalizeRequestPath rewrites r's path to its canonical form when the connection manager
// asks, keeping the query and dropping a fragment.
func normalizeRequestPath(r *http.Request, pn pathNormalization) {
	if !pn.normalize && !pn.mergeSlashes {
		return
	}
	path := requestPath(r)
	if path == "" || path[0] != '/' {
		return // "OPTIONS *", or an absolute-form target without a path
	}
	canonical, changed := canonicalPath(path, pn)
	query, fragment := r.URL.RawQuery, strings.Contains(r.RequestURI, "#")
	if !changed && !fragment {
		return
	}
	if i := strings.IndexByte(query, '#'); i >= 0 {
		query = query[:i]
	}
	target := canonical
	if query != "" {
		target += "?" + query
	}
	setPath(r, canonical)
	r.URL.RawQuery, r.URL.Fragment, r.URL.RawFragment = query, "", ""
	r.RequestURI = target
}

// canonicalPath is path (without query or fragment) normalised as pn asks, and whether that
// changed it. The common path needs one scan and no allocation.
func canonicalPath(path string, pn pathNormalization) (string, bool) {
	if pn.normalize && !needsNormalizing(path) && !(pn.mergeSlashes && strings.Contains(path, "//")) {
		return path, false
	}
	out := path
	if pn.normalize {
		out = removeDotSegments(decodeUnreserved(path))
	}
	if pn.mergeSlashes {
		out = mergeSlashes(out)
	}
	return out, out != path
}

// needsNormalizing reports whether path has anything normalisation changes: a backslash, an
// escape, or a "." or ".." segment.
func needsNormalizing(path string) bool {
	for i := 0; i < len(path); i++ {
		switch path[i] {
		case '\\', '%':
			return true
		case '.':
			if path[i-1] == '/' && (i+1 == len(path) || path[i+1] == '/' ||
				path[i+1] == '.' && (i+2 == len(path) || path[i+2] == '/')) {
				return true
			}
		}
	}
	return false
}

// decodeUnreserved turns backslashes into slashes and decodes the escapes of unreserved
// characters; other escapes, and a "%" not followed by two hex digits, stay as they are.
func decodeUnreserved(path string) string {
	var b strings.Builder
	b.Grow(len(path))
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '\\':
			b.WriteByte('/')
		case c == '%' && i+2 < len(path) && isHex(path[i+1]) && isHex(path[i+2]):
			if d := unhex(path[i+1])<<4 | unhex(path[i+2]); unreservedByte(d) {
				b.WriteByte(d)
			} else {
				b.WriteString(path[i : i+3])
			}
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// removeDotSegments is RFC 3986 section 5.2.4 for an absolute path: "." segments go, and
// ".." takes the segment before it (never above the root).
func removeDotSegments(path string) string {
	segs := strings.Split(path[1:], "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}

// mergeSlashes collapses each run of slashes into one.
func mergeSlashes(path string) string {
	if !strings.Contains(path, "//") {
		return path
	}
	var b strings.Builder
	b.Grow(len(path))
	for i := 0; i < len(path); i++ {
		if path[i] == '/' && i > 0 && path[i-1] == '/' {
			continue
		}
		b.WriteByte(path[i])
	}
	return b.String()
}

// unreservedByte marks RFC 3986's unreserved characters, which an escape may hide.
func unreservedByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}
