package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/signalbox/signalbox/publisher"
	"github.com/signalbox/signalbox/source"
)

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", "serve [--repo PATH|URL] [--branch main] [--dir policies] [flags]", stderr)
	var cfg publisher.Config
	fs.StringVar(&cfg.Repo, "repo", ".", "git repository to follow: a local path or a URL")
	fs.StringVar(&cfg.Branch, "branch", "main", "branch to follow; its tip is what is published")
	fs.StringVar(&cfg.Dir, "dir", "policies", "policy directory inside the repository")
	fs.DurationVar(&cfg.Poll, "poll", 2e9, "how often to fetch the branch")
	fs.StringVar(&cfg.XDSAddr, "xds-addr", "127.0.0.1:18000", "xDS (ADS gRPC) listen address")
	fs.StringVar(&cfg.AdminAddr, "admin-addr", "127.0.0.1:18001", "admin HTTP listen address (/healthz, /status, /history, /metrics, /hooks/git)")
	fs.StringVar(&cfg.Snapshot, "snapshot", "", "serve this snapshot file (from compile -o) instead of following git")
	fs.StringVar(&cfg.StateDir, "state-dir", "", "keep every published snapshot and the publish history in this directory; a restart serves the last one at once")
	fs.StringVar(&cfg.WebhookSecret, "webhook-secret", "", "shared secret POST /hooks/git must be signed with (X-Hub-Signature-256); default $SIGNALBOX_WEBHOOK_SECRET")
	fs.StringVar(&cfg.RequireSignedBy, "require-signed-by", "", "armored PGP public keyring: publish only commits signed by one of its keys")
	fs.StringVar(&cfg.GitAuth.TokenFile, "git-token-file", "", "file holding the HTTPS token of a private --repo URL, re-read at every fetch; default $SIGNALBOX_GIT_TOKEN_FILE, or the token itself in $SIGNALBOX_GIT_TOKEN (user $SIGNALBOX_GIT_USERNAME, default git)")
	fs.StringVar(&cfg.GitAuth.SSHKeyFile, "ssh-key", "", "private key file for an ssh --repo URL, host keys checked against $SSH_KNOWN_HOSTS or ~/.ssh/known_hosts; default $SIGNALBOX_SSH_KEY")
	if _, err := parseArgs(fs, args); err != nil {
		return parseExit(err)
	}
	env := source.GitAuthFromEnv() // secrets stay out of the process list
	cfg.GitAuth.Username, cfg.GitAuth.Token, cfg.GitAuth.SSHKeyPassphrase = env.Username, env.Token, env.SSHKeyPassphrase
	if cfg.GitAuth.TokenFile == "" {
		cfg.GitAuth.TokenFile = env.TokenFile
	}
	if cfg.GitAuth.SSHKeyFile == "" {
		cfg.GitAuth.SSHKeyFile = env.SSHKeyFile
	}
	if cfg.WebhookSecret == "" {
		cfg.WebhookSecret = os.Getenv("SIGNALBOX_WEBHOOK_SECRET") // kept out of the process list
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	p, err := publisher.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "signalbox serve:", err)
		return exitUsage
	}
	if err := p.Start(ctx); err != nil {
		fmt.Fprintln(stderr, "signalbox serve:", err)
		return exitUsage
	}
	cfg.Logger.Info("serving", "xds", p.XDSAddr(), "admin", p.AdminAddr())
	<-ctx.Done()
	<-p.Done() // let in-flight streams and the admin server close before exiting
	return exitOK
}
