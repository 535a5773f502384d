package source

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

// GitAuth says how to sign in to a remote repository: policy repositories are usually private.
// The zero value is anonymous over HTTPS and, over SSH, go-git's default (an ssh-agent).
type GitAuth struct {
	// Username goes with Token over HTTPS; default "git". GitHub takes any name with a token,
	// GitLab wants "oauth2" with an OAuth token, Bitbucket "x-token-auth".
	Username string
	// Token is the HTTPS password or access token.
	Token string
	// TokenFile, when set, is read at every fetch instead of Token, so a rotated token (a
	// Kubernetes Secret mounted as a file) is picked up without a restart. While the file does
	// not exist (an optional Secret not created yet) the fetch is anonymous.
	TokenFile string
	// SSHKeyFile is a private key (a deploy key) for ssh:// and user@host:path URLs, with
	// SSHKeyPassphrase if it is encrypted. The server's host key is checked against
	// $SSH_KNOWN_HOSTS, or ~/.ssh/known_hosts, as go-git does.
	SSHKeyFile, SSHKeyPassphrase string
}

// The environment variables GitAuthFromEnv reads. Secrets stay out of the process list.
const (
	EnvGitUsername      = "SIGNALBOX_GIT_USERNAME"
	EnvGitToken         = "SIGNALBOX_GIT_TOKEN"
	EnvGitTokenFile     = "SIGNALBOX_GIT_TOKEN_FILE"
	EnvSSHKey           = "SIGNALBOX_SSH_KEY"
	EnvSSHKeyPassphrase = "SIGNALBOX_SSH_KEY_PASSPHRASE"
)

// GitAuthFromEnv reads the credentials every command uses for a remote repository.
func GitAuthFromEnv() GitAuth {
	return GitAuth{
		Username:         os.Getenv(EnvGitUsername),
		Token:            os.Getenv(EnvGitToken),
		TokenFile:        os.Getenv(EnvGitTokenFile),
		SSHKeyFile:       os.Getenv(EnvSSHKey),
		SSHKeyPassphrase: os.Getenv(EnvSSHKeyPassphrase),
	}
}

// Method is the go-git authentication for a remote URL, or nil for go-git's default. It is
// called before each clone or fetch, so a token file is re-read each time.
func (a GitAuth) Method(remote string) (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(remote)
	if err != nil {
		return nil, fmt.Errorf("repository URL %s: %w", RedactURL(remote), err)
	}
	switch ep.Protocol {
	case "ssh":
		if a.SSHKeyFile == "" {
			return nil, nil
		}
		user := ep.User
		if user == "" {
			user = "git"
		}
		keys, err := gitssh.NewPublicKeysFromFile(user, a.SSHKeyFile, a.SSHKeyPassphrase)
		if err != nil {
			return nil, fmt.Errorf("ssh key %s: %w", a.SSHKeyFile, err)
		}
		return keys, nil
	case "http", "https":
		token := a.Token
		if a.TokenFile != "" {
			b, err := os.ReadFile(a.TokenFile)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				token = ""
			case err != nil:
				return nil, fmt.Errorf("git token: %w", err)
			default:
				token = strings.TrimSpace(string(b))
			}
		}
		if token == "" {
			return nil, nil // anonymous, or a user:password in the URL (go-git's own)
		}
		user := a.Username
		if user == "" {
			user = "git"
		}
		return &githttp.BasicAuth{Username: user, Password: token}, nil
	}
	return nil, nil
}

// RedactURL hides a password in a URL's user info, for logs, errors and /status.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); !ok {
		return s
	}
	u.User = url.UserPassword(u.User.Username(), "REDACTED")
	return u.String()
}
