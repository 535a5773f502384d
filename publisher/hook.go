package publisher

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// maxHookBody bounds a webhook payload (GitHub caps its payloads at 25 MB).
const maxHookBody = 25 << 20

// handleHook is POST /hooks/git: a push notification that makes the follow loop fetch now.
// It accepts GitHub's push payload (JSON, or form-encoded with a payload field) and an empty
// body (any sender); a push to another branch is acknowledged and ignored. With a webhook
// secret, X-Hub-Signature-256 must be the HMAC-SHA256 of the body, or the answer is 401.
func (p *Publisher) handleHook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxHookBody+1))
	if err != nil || len(body) > maxHookBody {
		http.Error(w, "payload unreadable or too large", http.StatusBadRequest)
		return
	}
	if p.cfg.WebhookSecret != "" && !validSignature(p.cfg.WebhookSecret, body, r.Header.Get("X-Hub-Signature-256")) {
		http.Error(w, "X-Hub-Signature-256 does not match the body", http.StatusUnauthorized)
		return
	}
	if event := r.Header.Get("X-GitHub-Event"); event != "" && event != "push" {
		w.Write([]byte("ignored: " + event + " event\n"))
		return
	}
	if ref, ok := pushRef(r.Header.Get("Content-Type"), body); ok && ref != plumbing.NewBranchReferenceName(p.cfg.Branch).String() {
		w.Write([]byte("ignored: push to " + ref + "\n"))
		return
	}
	// The fetch runs on the follow loop: a webhook sender should not wait on a clone.
	p.trigger()
	w.WriteHeader(http.StatusAccepted)
	w.Write([]byte("fetch scheduled\n"))
}

// validSignature checks GitHub's "sha256=HEX" signature of body, in constant time.
func validSignature(secret string, body []byte, header string) bool {
	got, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	sig, err := hex.DecodeString(got)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(sig, mac.Sum(nil))
}

// pushRef reads the ref of a push payload; ok is false when the body is not one (an empty
// body, or another sender's), which triggers a fetch all the same.
func pushRef(contentType string, body []byte) (string, bool) {
	if strings.HasPrefix(contentType, "application/x-www-form-urlencoded") {
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return "", false
		}
		body = []byte(v.Get("payload"))
	}
	var push struct {
		Ref string `json:"ref"`
	}
	if json.Unmarshal(body, &push) != nil || push.Ref == "" {
		return "", false
	}
	return push.Ref, true
}
