package gitrepo

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHServer serves a repository read-only over SSH as a git host does for a deploy key: the
// client must sign in with the one authorized key, and may only run git-upload-pack. It
// listens on a loopback port, with go-git's own upload-pack and no git binary.
type SSHServer struct {
	Addr       string
	HostKey    ssh.PublicKey
	ln         net.Listener
	wg         sync.WaitGroup
	storer     *git.Repository
	authorized ssh.PublicKey
}

// NewSSHServer starts serving repo to the holder of authorized's private key.
func NewSSHServer(repo *git.Repository, authorized ssh.PublicKey) (*SSHServer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &SSHServer{Addr: ln.Addr().String(), HostKey: signer.PublicKey(), ln: ln, storer: repo, authorized: authorized}
	cfg := &ssh.ServerConfig{PublicKeyCallback: s.checkKey}
	cfg.AddHostKey(signer)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serveConn(c, cfg) }()
		}
	}()
	return s, nil
}

// KnownHostsLine is the server's line for a known_hosts file.
func (s *SSHServer) KnownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, s.HostKey)
}

// Close stops accepting and waits for the connections being served.
func (s *SSHServer) Close() {
	s.ln.Close()
	s.wg.Wait()
}

func (s *SSHServer) checkKey(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	if !bytes.Equal(key.Marshal(), s.authorized.Marshal()) {
		return nil, errors.New("key not authorized")
	}
	return nil, nil
}

func (s *SSHServer) serveConn(c net.Conn, cfg *ssh.ServerConfig) {
	defer c.Close()
	conn, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	defer conn.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, requests, err := nc.Accept()
		if err != nil {
			return
		}
		s.serveSession(ch, requests)
	}
}

// serveSession runs the one command a session may: git-upload-pack 'PATH'.
func (s *SSHServer) serveSession(ch ssh.Channel, requests <-chan *ssh.Request) {
	defer ch.Close()
	for req := range requests {
		if req.Type != "exec" {
			req.Reply(req.Type == "env", nil) // git clients send env (GIT_PROTOCOL); ignore it
			continue
		}
		var payload struct{ Command string }
		if ssh.Unmarshal(req.Payload, &payload) != nil || !strings.HasPrefix(payload.Command, "git-upload-pack ") {
			req.Reply(false, nil)
			return
		}
		req.Reply(true, nil)
		status := uint32(0)
		if err := s.uploadPack(ch, strings.Trim(strings.TrimPrefix(payload.Command, "git-upload-pack "), "'")); err != nil {
			ch.Stderr().Write([]byte(err.Error() + "\n"))
			status = 1
		}
		ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{status}))
		return
	}
}

func (s *SSHServer) uploadPack(ch ssh.Channel, path string) error {
	ep, err := transport.NewEndpoint(path)
	if err != nil {
		return err
	}
	sess, err := server.NewServer(oneRepo{s.storer.Storer}).NewUploadPackSession(ep, nil)
	if err != nil {
		return err
	}
	defer sess.Close()
	refs, err := sess.AdvertisedReferences()
	if err != nil {
		return err
	}
	if err := refs.Encode(ch); err != nil {
		return err
	}
	up := packp.NewUploadPackRequest()
	if err := up.UploadRequest.Decode(ch); err != nil {
		return err
	}
	if err := readHaves(ch, up); err != nil {
		return err
	}
	resp, err := sess.UploadPack(context.Background(), up)
	if err != nil {
		return err
	}
	return resp.Encode(ch)
}
