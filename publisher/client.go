package publisher

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// waitPoll is how often Wait reads /status.
const waitPoll = 200 * time.Millisecond

// FetchStatus reads GET /status from a publisher's admin address ("host:port" or a URL).
func FetchStatus(ctx context.Context, adminAddr string) (Status, error) {
	var st Status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, adminURL(adminAddr)+"/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return st, fmt.Errorf("GET /status: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("GET /status: %w", err)
	}
	return st, nil
}

func adminURL(addr string) string {
	if strings.Contains(addr, "://") {
		return strings.TrimRight(addr, "/")
	}
	return "http://" + addr
}

// NACKError says a proxy rejected the version being waited for.
type NACKError struct {
	NodeID, Version, Message string
}

func (e *NACKError) Error() string {
	return fmt.Sprintf("proxy %s rejected version %s: %s", e.NodeID, e.Version, e.Message)
}

// TimeoutError says the wait ended (its context's deadline or cancellation) before every
// connected proxy was in sync. Pending says what was still awaited.
type TimeoutError struct {
	Pending []string
	Err     error
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("timed out waiting: %s", strings.Join(e.Pending, "; "))
}

func (e *TimeoutError) Unwrap() error { return e.Err }

// Wait polls /status until the publisher serves the commit (a full sha or a prefix) or the
// version asked for (either may be empty, not both) and every connected proxy has applied it.
// It returns a *NACKError as soon as a connected proxy rejects that version, a
// *RejectedError if the commit did not compile, and a *TimeoutError when ctx ends first.
func Wait(ctx context.Context, adminAddr, commit, version string) error {
	if commit == "" && version == "" {
		return fmt.Errorf("wait: a commit or a version is required")
	}
	tick := time.NewTicker(waitPoll)
	defer tick.Stop()
	var pending []string
	for {
		var now []string
		st, err := FetchStatus(ctx, adminAddr)
		switch {
		case err == nil:
			if done, err := waitDone(st, commit, version, &now); err != nil || done {
				return err
			}
			pending = now
		case ctx.Err() == nil || pending == nil:
			pending = []string{err.Error()}
			// else: the deadline cut this request off; what the publisher last said is the
			// better answer to why the wait timed out.
		}
		select {
		case <-ctx.Done():
			return &TimeoutError{Pending: pending, Err: ctx.Err()}
		case <-tick.C:
		}
	}
}

// waitDone judges one /status document for Wait, listing what is still awaited in pending.
func waitDone(st Status, commit, version string, pending *[]string) (bool, error) {
	if commit != "" {
		if e := st.LastError; e != nil && e.Commit != "" && sameCommit(e.Commit, commit) {
			return false, &RejectedError{Commit: e.Commit, Message: e.Message}
		}
		if !sameCommit(st.Commit, commit) {
			*pending = append(*pending, fmt.Sprintf("publisher is at commit %s, not %s", short(st.Commit), commit))
			return false, nil
		}
		if version == "" {
			version = st.Version
		}
	}
	for _, px := range st.Proxies {
		if px.Connected && px.NackedVersion != nil && *px.NackedVersion == version {
			msg := ""
			if px.Error != nil {
				msg = *px.Error
			}
			return false, &NACKError{NodeID: px.NodeID, Version: version, Message: msg}
		}
	}
	if st.Version != version {
		*pending = append(*pending, fmt.Sprintf("publisher serves version %s, not %s", st.Version, version))
		return false, nil
	}
	var behind []string
	for _, px := range st.Proxies {
		if px.Connected && !px.InSync {
			behind = append(behind, fmt.Sprintf("%s at %q", px.NodeID, px.Version))
		}
	}
	if len(behind) > 0 {
		sort.Strings(behind)
		*pending = append(*pending, "proxies not on "+version+": "+strings.Join(behind, ", "))
		return false, nil
	}
	return true, nil
}

// sameCommit compares a full sha with a sha or an unambiguous-length prefix of one.
func sameCommit(full, want string) bool {
	if full == "" || len(want) < 4 {
		return full == want
	}
	return strings.HasPrefix(strings.ToLower(full), strings.ToLower(want))
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	if sha == "" {
		return `""`
	}
	return sha
}
