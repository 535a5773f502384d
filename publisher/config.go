package publisher

import (
	"errors"
	"log/slog"
	"time"

	"github.com/signalbox/signalbox/source"
)

// Defaults for the zero values of Config.
const (
	DefaultBranch    = "main"
	DefaultDir       = "policies"
	DefaultPoll      = 2 * time.Second
	DefaultXDSAddr   = "127.0.0.1:18000"
	DefaultAdminAddr = "127.0.0.1:18001"
)

// Config says what a Publisher follows and where it listens.
type Config struct {
	// Repo is a local path (read in place) or a URL (cloned into memory and fetched).
	Repo string
	// GitAuth signs in to a Repo URL (a private repository).
	GitAuth source.GitAuth
	// Branch is followed by its tip; a force push is followed too. Default "main".
	Branch string
	// Dir is the policy directory inside the repository, "." for its root. Default "policies".
	Dir string
	// Poll is how often the branch is fetched. Default 2s.
	Poll time.Duration
	// XDSAddr and AdminAddr are listen addresses; port 0 picks a free port.
	XDSAddr, AdminAddr string
	// Snapshot, when set, is a compiled snapshot file to serve instead of following git.
	Snapshot string
	// StateDir, when set, keeps every published snapshot and the publish history on disk
	// (store.go); a restart serves the last published snapshot before its first fetch.
	StateDir string
	// WebhookSecret, when set, is the shared secret POST /hooks/git requests must be signed
	// with (GitHub's X-Hub-Signature-256: HMAC-SHA256 of the body).
	WebhookSecret string
	// RequireSignedBy, when set, is a file of armored PGP public keys: only commits whose
	// signature verifies with one of them are published.
	RequireSignedBy string
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.Branch == "" {
		c.Branch = DefaultBranch
	}
	if c.Dir == "" {
		c.Dir = DefaultDir
	}
	if c.Poll <= 0 {
		c.Poll = DefaultPoll
	}
	if c.XDSAddr == "" {
		c.XDSAddr = DefaultXDSAddr
	}
	if c.AdminAddr == "" {
		c.AdminAddr = DefaultAdminAddr
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Repo == "" && c.Snapshot == "" {
		return c, errors.New("publisher: a repository or a snapshot file is required")
	}
	return c, nil
}
