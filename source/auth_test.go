package source

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/signalbox/signalbox/internal/gitrepo"
)

const vsFile = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
`

// A private repository over smart HTTP (a real upload-pack behind basic auth, on loopback):
// cloned with a token, from a token file, or with the password in the URL; refused without,
// with an error that names the failure and never shows the secret.
func TestOpenRepoWithCredentials(t *testing.T) {
	r := newTestRepo(t)
	sha := r.commit("policies", map[string][]byte{"policies/vs.yaml": []byte(vsFile)})
	srv, _ := gitrepo.NewHTTPServer(r.repo, "ci", "s3cret-token")
	defer srv.Close()
	url := srv.URL + "/acme/policies.git"

	read := func(auth GitAuth, url string) error {
		t.Helper()
		repo, err := OpenRepo(url, auth)
		if err != nil {
			return err
		}
		got, files, err := ReadRevision(repo, "main", "policies")
		if err != nil || got != sha || len(files) != 1 {
			t.Fatalf("read %s: %s, %d files (%v); want %s and one file", url, got, len(files), err, sha)
		}
		return nil
	}
	if err := read(GitAuth{Username: "ci", Token: "s3cret-token"}, url); err != nil {
		t.Errorf("with the token: %v", err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := read(GitAuth{Username: "ci", TokenFile: tokenFile}, url); err != nil {
		t.Errorf("with the token file: %v", err)
	}
	withPassword := strings.Replace(url, "http://", "http://ci:s3cret-token@", 1)
	if err := read(GitAuth{}, withPassword); err != nil {
		t.Errorf("with the password in the URL: %v", err)
	}

	for name, c := range map[string]struct {
		auth GitAuth
		url  string
	}{
		"anonymous":             {GitAuth{}, url},
		"wrong token":           {GitAuth{Username: "ci", Token: "wrong-secret"}, url},
		"wrong password in URL": {GitAuth{}, strings.Replace(url, "http://", "http://ci:wrong-secret@", 1)},
	} {
		err := read(c.auth, c.url)
		if err == nil {
			t.Errorf("%s: cloned a private repository", name)
			continue
		}
		if !strings.Contains(err.Error(), "authentication required") || strings.Contains(err.Error(), "wrong-secret") {
			t.Errorf("%s: error %q: want it to say authentication is required, without the secret", name, err)
		}
	}
	// A token file not there (yet) means no token: a public repository still clones.
	if err := read(GitAuth{TokenFile: filepath.Join(t.TempDir(), "missing")}, url); err == nil || !strings.Contains(err.Error(), "authentication required") {
		t.Errorf("a missing token file, private repository: %v", err)
	}
	public, _ := gitrepo.NewHTTPServer(r.repo, "", "")
	defer public.Close()
	if err := read(GitAuth{TokenFile: filepath.Join(t.TempDir(), "missing")}, public.URL+"/acme/public.git"); err != nil {
		t.Errorf("a missing token file, public repository: %v", err)
	}
	if _, err := OpenRepo(url, GitAuth{TokenFile: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "git token") {
		t.Errorf("a token file that cannot be read: %v", err)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://ci:tok@example.com/acme/policies.git": "https://ci:REDACTED@example.com/acme/policies.git",
		"https://example.com/acme/policies.git":        "https://example.com/acme/policies.git",
		"ssh://git@example.com/acme/policies.git":      "ssh://git@example.com/acme/policies.git",
		"git@example.com:acme/policies.git":            "git@example.com:acme/policies.git",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// An SSH key that cannot be read is a clear error before any connection.
func TestSSHKeyFileErrors(t *testing.T) {
	_, err := GitAuth{SSHKeyFile: filepath.Join(t.TempDir(), "missing")}.Method("git@example.com:acme/policies.git")
	if err == nil || !strings.Contains(err.Error(), "ssh key") {
		t.Errorf("missing key file: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "id")
	os.WriteFile(bad, []byte("not a key"), 0o600)
	if _, err := (GitAuth{SSHKeyFile: bad}).Method("ssh://git@example.com/acme/policies.git"); err == nil {
		t.Error("a file that is not a key was accepted")
	}
	if m, err := (GitAuth{SSHKeyFile: bad}).Method("https://example.com/acme/policies.git"); m != nil || err != nil {
		t.Errorf("an HTTPS URL used the SSH key: %v %v", m, err)
	}
}

// A private repository over SSH with a deploy key (a real SSH server on loopback that takes
// one key and runs only git-upload-pack): cloned with the key and the host in known_hosts;
// refused with another key, and with a host key not in known_hosts.
func TestOpenRepoWithSSHKey(t *testing.T) {
	r := newTestRepo(t)
	sha := r.commit("policies", map[string][]byte{"policies/vs.yaml": []byte(vsFile)})
	dir := t.TempDir()
	deployKey, deployPub := writeSSHKey(t, filepath.Join(dir, "deploy"))
	otherKey, _ := writeSSHKey(t, filepath.Join(dir, "other"))

	srv, err := gitrepo.NewSSHServer(r.repo, deployPub)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	knownHosts := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(knownHosts, []byte(srv.KnownHostsLine()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSH_KNOWN_HOSTS", knownHosts)
	t.Setenv("SSH_AUTH_SOCK", "") // no agent: the key given is the only way in
	url := "ssh://git@" + srv.Addr + "/acme/policies.git"

	repo, err := OpenRepo(url, GitAuth{SSHKeyFile: deployKey})
	if err != nil {
		t.Fatalf("with the deploy key: %v", err)
	}
	if got, files, err := ReadRevision(repo, "main", "policies"); err != nil || got != sha || len(files) != 1 {
		t.Fatalf("read: %s, %d files, %v; want %s", got, len(files), err, sha)
	}
	if _, err := OpenRepo(url, GitAuth{SSHKeyFile: otherKey}); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("with another key: %v", err)
	}
	if err := os.WriteFile(knownHosts, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenRepo(url, GitAuth{SSHKeyFile: deployKey}); err == nil || !strings.Contains(err.Error(), "key is unknown") {
		t.Errorf("with the host not in known_hosts: %v", err)
	}
}

// writeSSHKey writes a new ed25519 private key in OpenSSH form to path.
func writeSSHKey(t *testing.T, path string) (string, ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return path, sshPub
}
