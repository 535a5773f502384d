package publisher

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/signalbox/signalbox/compiler"
)

// roleRejection is the state of a role whose every connected proxy rejected the version
// serving (istio#36021: a config accepted by the control plane and refused by every gateway).
// It lasts until the next publish. Proxies of the role that connect meanwhile are served the
// last version the role applied instead, so a new replica of a gateway starts with a
// configuration it can run rather than one its peers refused.
type roleRejection struct {
	version  string // tree version rejected
	message  string // one proxy's NACK message
	lastGood string // tree version the role's proxies had applied, "" if none
	// fallback is the snapshot of lastGood when it has the role; each new proxy gets the role
	// from it localised for its own place.
	fallback *compiler.Snapshot
}

// checkRoleRejectedLocked flags role when every connected proxy of it holds a NACK of the
// version serving. It runs after each NACK.
func (p *Publisher) checkRoleRejectedLocked(role string) {
	if p.current == nil || role == "" || p.roleRejected[role] != nil {
		return
	}
	var (
		nodes   int
		message string
		running = map[string]bool{} // versions the role's proxies run
	)
	for _, n := range p.nodes {
		if n.streams == 0 || n.role != role {
			continue
		}
		nodes++
		r := roleOf(p.current, n)
		rejected := false
		for t, nk := range n.nacks {
			if nk.version == r.Versions[t] {
				rejected, message = true, nk.message
				break
			}
		}
		if !rejected {
			return
		}
		// What the node runs is the newest published version whose role for it is what it
		// ACKed, as status shows it: a publish that left its resources unchanged (a change
		// for another namespace) sent it nothing to ACK, so n.applied can be older.
		if v := p.hist.match(n, func(r *compiler.Role) bool { return applied(r, n.acked) }); v != "" && v != p.current.Version {
			running[v] = true
		} else if v := n.applied; v != "" && v != p.current.Version {
			running[v] = true
		}
	}
	if nodes == 0 {
		return
	}
	// The newest of them: a proxy still on an older one has a change since to catch up on.
	lastGood := ""
	for i := len(p.hist.log) - 1; i >= 0 && lastGood == ""; i-- {
		if v := p.hist.log[i].Version; running[v] {
			lastGood = v
		}
	}
	rej := &roleRejection{version: p.current.Version, message: message, lastGood: lastGood}
	if s := p.hist.byVersion[lastGood]; s != nil && s.Role(role) != nil {
		rej.fallback = s
	}
	if p.roleRejected == nil {
		p.roleRejected = map[string]*roleRejection{}
	}
	p.roleRejected[role] = rej
	p.metrics.roleRejected.WithLabelValues(role).Set(1)
	p.log.Error("every connected proxy of a role rejected the version serving; new proxies of the role get the last version it applied",
		"role", role, "version", rej.version, "proxies", nodes, "last_good", rej.lastGood, "error", message)
}

// clearRoleRejectionsLocked forgets rejections at a publish: the new version gets its chance.
func (p *Publisher) clearRoleRejectionsLocked() {
	for role := range p.roleRejected {
		p.metrics.roleRejected.WithLabelValues(role).Set(0)
	}
	p.roleRejected = nil
}

// roleRejectedErrorLocked is the /status last_error for rejected roles, or nil.
func (p *Publisher) roleRejectedErrorLocked() *LastError {
	if len(p.roleRejected) == 0 {
		return nil
	}
	var lines []string
	for _, role := range slices.Sorted(maps.Keys(p.roleRejected)) {
		r := p.roleRejected[role]
		fallback := "no earlier version to fall back to"
		if r.fallback != nil {
			fallback = "new proxies of the role get version " + r.lastGood
		}
		lines = append(lines, fmt.Sprintf("every connected proxy of role %s rejected version %s (%s); %s", role, r.version, r.message, fallback))
	}
	return &LastError{Commit: p.commit, Message: strings.Join(lines, "\n")}
}
