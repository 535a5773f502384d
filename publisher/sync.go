package publisher

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/signalbox/signalbox/compiler"
	"github.com/signalbox/signalbox/schema"
	"github.com/signalbox/signalbox/source"
)

// maxBackoff bounds the wait between fetches while the repository keeps failing (unless the
// poll interval itself is longer).
const maxBackoff = time.Minute

// RejectedError says a commit was not published (Wait returns it): its tree did not compile.
// Message holds the findings, one a line, FILE:LINE:COL: error: KIND NS/NAME: MSG.
type RejectedError struct {
	Commit  string
	Message string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("commit %s not published:\n%s", e.Commit, e.Message)
}

// Sync fetches the branch now and, if its tip changed, compiles and publishes it. A tip that
// does not compile is not published: it is recorded in last_error and logged, the snapshot
// serving before keeps serving, and Sync still returns nil, since refusing it is the job done.
// The error is for a failed fetch. In snapshot-file mode there is nothing to follow.
func (p *Publisher) Sync(ctx context.Context) error {
	if p.follower == nil {
		return nil
	}
	p.syncMu.Lock()
	defer p.syncMu.Unlock()

	c, err := p.follower.tip(ctx)
	if err != nil {
		p.mu.Lock()
		p.counters.fetchErrors++
		p.fetchFailed = &LastError{Message: err.Error()}
		p.mu.Unlock()
		return err
	}
	sha := c.Hash.String()
	p.mu.Lock()
	p.fetchFailed = nil
	unchanged := sha == p.seen
	p.mu.Unlock()
	if unchanged {
		return nil
	}

	if p.keyring != "" {
		if _, err := c.Verify(p.keyring); err != nil {
			p.reject(sha, fmt.Sprintf("commit is not signed by a key in %s: %v", p.cfg.RequireSignedBy, err))
			return nil
		}
	}
	// A commit that leaves the policy directory's tree as it was when last published (docs, CI
	// files) needs no compile: the version stays, the commit moves.
	dirHash := policyTreeHash(c, p.cfg.Dir)
	p.mu.Lock()
	same := dirHash != "" && dirHash == p.publishedDir && p.rejected == nil && p.current != nil
	if same {
		p.seen, p.commit = sha, sha
	}
	p.mu.Unlock()
	if same {
		p.log.Info("commit changes nothing under the policy dir", "commit", sha)
		return nil
	}
	start := time.Now()
	files, err := source.ReadCommit(c, p.cfg.Dir)
	if err != nil {
		p.reject(sha, err.Error())
		return nil
	}
	snap, findings := compiler.CompileFiles(files)
	if snap == nil || schema.HasErrors(findings) {
		var lines []string
		for _, f := range schema.Relocate(findings, p.cfg.Dir) {
			if f.Severity == schema.SeverityError {
				lines = append(lines, f.String())
			}
		}
		if len(lines) == 0 {
			lines = append(lines, "compiler returned no snapshot")
		}
		p.reject(sha, strings.Join(lines, "\n"))
		return nil
	}
	for _, f := range schema.Relocate(findings, p.cfg.Dir) {
		p.log.Warn("policy warning", "commit", sha, "finding", f.String())
	}
	snap.Commit = sha
	p.metrics.compile.Observe(time.Since(start).Seconds())
	p.mu.Lock()
	p.publishedDir = dirHash
	p.mu.Unlock()
	published := p.publishEntry(snap, HistoryEntry{
		fetchedAt:   start,
		Author:      fmt.Sprintf("%s <%s>", c.Author.Name, c.Author.Email),
		CommittedAt: c.Committer.When.UTC(),
	}, true)
	p.log.Info("compiled", "commit", sha, "version", snap.Version, "published", published,
		"files", len(files), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func (p *Publisher) reject(sha, msg string) {
	p.mu.Lock()
	p.seen = sha
	p.counters.compileErrors++
	p.rejected = &LastError{Commit: sha, Message: msg}
	version := ""
	if p.current != nil {
		version = p.current.Version
	}
	p.mu.Unlock()
	p.log.Error("commit not published: the last good snapshot keeps serving", "commit", sha,
		"serving", version, "findings", msg)
}

// publish makes s the current snapshot and pushes it to every connected node. A snapshot of
// the version already serving (a commit that changed nothing the compiler reads) is not pushed
// again: only its commit is recorded. It reports whether anything was pushed.
func (p *Publisher) publish(s *compiler.Snapshot) bool {
	return p.publishEntry(s, HistoryEntry{}, true)
}

// publishEntry is publish with the commit's author and time for the history; record=false
// serves a snapshot restored from the state directory without logging it again.
func (p *Publisher) publishEntry(s *compiler.Snapshot, meta HistoryEntry, record bool) bool {
	p.pushMu.Lock()
	defer p.pushMu.Unlock()

	p.mu.Lock()
	p.seen = s.Commit
	p.rejected = nil
	if p.current != nil && p.current.Version == s.Version {
		p.commit = s.Commit
		p.mu.Unlock()
		return false
	}
	reuse := reuseKeys(p.roleSnaps)
	p.mu.Unlock()

	// Serialize every role once, shared by all nodes of that role (pushMu keeps publishes in
	// order while mu is free for status and stream callbacks).
	start := time.Now()
	roles, err := prepareRoles(s, reuse)
	if err != nil {
		p.reject(s.Commit, err.Error())
		return false
	}
	p.metrics.serialize.Observe(time.Since(start).Seconds())

	p.mu.Lock()
	p.current, p.commit, p.roleSnaps, p.placeSnaps = s, s.Commit, roles, nil
	now := time.Now().UTC()
	e := HistoryEntry{Version: s.Version, Commit: s.Commit, Author: meta.Author, CommittedAt: meta.CommittedAt, PublishedAt: now}
	if record {
		p.hist.add(s, e)
	}
	p.publishedAt = now
	p.convergeFrom = now
	if !meta.fetchedAt.IsZero() {
		p.convergeFrom = meta.fetchedAt
	}
	p.counters.published++
	p.converging = map[string]bool{}
	p.clearRoleRejectionsLocked()
	var targets []nodeRole
	for id, n := range p.nodes {
		if n.streams > 0 {
			targets = append(targets, p.nodeRoleLocked(id, n))
			p.converging[id] = true
		}
	}
	p.mu.Unlock()
	p.metrics.published(s.Version, s.Commit, meta.CommittedAt, now)
	if record && p.store != nil {
		if err := p.store.record(s, e); err != nil {
			p.log.Error("state dir: history not saved", "version", s.Version, "err", err)
		}
	}

	for _, t := range targets {
		p.cache.setNode(t.id, t.role)
	}
	return true
}

// prepareRoles serializes every role of s, and the empty sidecar role of an empty tree.
func prepareRoles(s *compiler.Snapshot, reuse map[string]*preparedType) (map[string]*preparedRole, error) {
	roles := map[string]*preparedRole{}
	list := s.Roles
	if s.Role(compiler.SidecarRole) == nil {
		list = append(list[:len(list):len(list)], roleOf(s, &node{}))
	}
	for _, r := range list {
		// Reading the locality policies now makes a snapshot whose policies cannot be read
		// fail to publish, rather than later be served unlocalised.
		if _, err := s.Localized(r, compiler.Place{}); err != nil {
			return nil, err
		}
		pr, err := prepareRole(r, reuse)
		if err != nil {
			return nil, err
		}
		roles[r.Name] = pr
	}
	return roles, nil
}

// nodeRole is a node and the serialized role it is served.
type nodeRole struct {
	id   string
	role *preparedRole
}

func (p *Publisher) nodeRoleLocked(id string, n *node) nodeRole {
	r := roleOf(p.current, n)
	n.role = r.Name
	if rej := p.roleRejected[r.Name]; rej != nil && rej.fallback != nil {
		r = roleOf(rej.fallback, n)
	} else if r.Place == "" {
		return nodeRole{id: id, role: p.roleSnaps[r.Name]}
	}
	return nodeRole{id: id, role: p.preparedLocked(r)}
}

// maxPlaceSnaps bounds placeSnaps: proxies send whatever locality they like.
const maxPlaceSnaps = 1024

// preparedLocked serializes a role that is not one of the current snapshot's as compiled: a
// role localised for a proxy's place, or a rejected role's fallback. Each is serialized once
// per publish, and what it shares with the current roles (every type but endpoints, for a
// localised role) is not serialized again.
func (p *Publisher) preparedLocked(r *compiler.Role) *preparedRole {
	if pr := p.placeSnaps[r]; pr != nil {
		return pr
	}
	pr, err := prepareRole(r, reuseKeys(p.roleSnaps))
	if err != nil {
		// The same resources were serialized at publish, in the role as compiled; a
		// localised copy differs only in endpoints built from them.
		p.log.Error("serializing a localised role failed; serving the role as compiled", "role", r.Name, "place", r.Place, "err", err)
		return p.roleSnaps[r.Name]
	}
	if p.placeSnaps == nil || len(p.placeSnaps) >= maxPlaceSnaps {
		// Bounded like the snapshot's own cache of localised roles (compiler.Snapshot.Localized).
		p.placeSnaps = map[*compiler.Role]*preparedRole{}
	}
	p.placeSnaps[r] = pr
	return pr
}

// follow fetches on every poll tick and on each hook, backing off while fetches fail.
func (p *Publisher) follow(ctx context.Context) {
	wait := p.cfg.Poll
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-p.hook:
		}
		err := p.Sync(ctx)
		switch {
		case err == nil:
			wait = p.cfg.Poll
		case ctx.Err() != nil:
			return
		default:
			wait = min(2*wait, max(maxBackoff, p.cfg.Poll))
			p.log.Warn("fetch failed; still serving the last good snapshot", "err", err, "retry_in", wait)
		}
		p.forgetDisconnected(time.Now())
		timer.Reset(wait)
	}
}

// trigger asks the follow loop to fetch now; it does not wait.
func (p *Publisher) trigger() {
	select {
	case p.hook <- struct{}{}:
	default:
	}
}

// policyTreeHash is the git tree hash of dir in c ("" when it cannot be read, which makes the
// caller compile).
func policyTreeHash(c *object.Commit, dir string) string {
	t, err := c.Tree()
	if err != nil {
		return ""
	}
	dir = strings.Trim(path.Clean("/"+strings.ReplaceAll(dir, "\\", "/")), "/")
	if dir != "" {
		if t, err = t.Tree(dir); err != nil {
			return ""
		}
	}
	return t.Hash.String()
}
