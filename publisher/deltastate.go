package publisher

import (
	"maps"
	"slices"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
)

// deltaType is what a delta stream knows of one type: what the client asked for and what it
// holds. Once answered, a client holds the prepared type it was last sent (base) as far as it
// subscribes to it: the stream keeps that one pointer, shared with every other stream of the
// role, rather than a version per resource, so its state does not grow with the number of
// resources (only with the names a client asks for explicitly).
//
// held lists what the client holds that differs from base: versions it announced
// reconnecting (initial_resource_versions), names it unsubscribed from while wildcard ("", so
// they are sent again or reported removed), and names of base it subscribed to but was never
// sent (notHeld). The state is the one sent, not the one ACKed: a NACKed response is not sent
// again (the NACK hold), the next different one is, as the changes from what the client held
// before the response it refused (before, with heldBefore), which the stream keeps for that.
type deltaType struct {
	// wildcard: every resource of the type; legacy: no name asked for yet, which the protocol
	// reads as wildcard until the first name.
	wildcard, legacy bool
	subscribed       nameSet // names asked for explicitly
	base             *preparedType
	held             map[string]string

	// watching: a request came since the last response, so the next change is sent (the
	// client has one response of a type in flight at most). force: answer even with nothing
	// to send, so a wildcard client's first request completes its initialisation.
	watching, force bool

	// before and heldBefore are base and held as they were when the last response (nonce)
	// was sent; rejected: the client NACKed it, so it still holds those.
	before     *preparedType
	heldBefore map[string]string
	nonce      string
	rejected   bool
}

// reject notes a NACK of the response with this nonce: the client runs what it held before.
func (t *deltaType) reject(nonce string) {
	if nonce == t.nonce && t.nonce != "" {
		t.rejected = true
	}
}

// endHold makes the state what the client holds once pt differs from the version it refused
// (until then the stream holds, sending nothing, as the refused version counts as sent). What
// changed in held since the NACK (names subscribed or dropped) stays.
func (t *deltaType) endHold(pt *preparedType) {
	if !t.rejected || (t.base != nil && t.base.version == pt.version) {
		return
	}
	held := maps.Clone(t.heldBefore)
	for name, v := range t.held {
		if held == nil {
			held = map[string]string{}
		}
		held[name] = v
	}
	t.base, t.held, t.rejected = t.before, held, false
}

// explicitWildcard is the name that subscribes to (or unsubscribes from) every resource.
const explicitWildcard = "*"

// notHeld in held marks a name of base the client does not hold. No resource version is
// empty, nor this.
const notHeld = "\x00"

// newDeltaType starts a type's state from its first request; current is the type the node is
// served now, if any, whose names the subscriptions share rather than keep copies per stream.
func newDeltaType(req *discovery.DeltaDiscoveryRequest, current *preparedType) *deltaType {
	t := &deltaType{legacy: true, wildcard: len(req.GetResourceNamesSubscribe()) == 0, held: req.GetInitialResourceVersions()}
	t.update(req.GetResourceNamesSubscribe(), req.GetResourceNamesUnsubscribe(), current)
	return t
}

// update applies a request's subscriptions, then its unsubscriptions, as the protocol orders
// them (and as go-control-plane's delta server did).
func (t *deltaType) update(subscribe, unsubscribe []string, current *preparedType) {
	if t.legacy {
		if len(subscribe) == 0 {
			return // still the implicit wildcard
		}
		t.legacy = false // names from now on; the wildcard stays until unsubscribed
	}
	for _, name := range subscribe {
		if name == explicitWildcard {
			if !t.wildcard {
				t.widen()
			}
			continue
		}
		if t.subscribed.has(name) {
			continue
		}
		t.subscribed.add(name, current)
		if _, ok := t.held[name]; !ok && !t.wildcard && t.base != nil {
			if _, inBase := t.base.byKey[name]; inBase {
				t.setHeld(name, notHeld) // base has it, but the client was never sent it
			}
		}
	}
	for _, name := range unsubscribe {
		if name == explicitWildcard {
			t.wildcard = false
			continue
		}
		if t.subscribed.has(name) && t.wildcard {
			// Still covered by the wildcard: the client must be sent it again (or told it is
			// gone), as if it had changed.
			t.setHeld(name, "")
		} else {
			delete(t.held, name)
		}
		t.subscribed.remove(name)
	}
	if len(subscribe) > 0 {
		t.subscribed.compact(current)
	}
}

// widen subscribes a client asking for names to every resource: of base it holds only the
// names it asked for.
func (t *deltaType) widen() {
	t.wildcard = true
	if t.base == nil {
		return
	}
	for _, name := range t.base.names {
		named := t.subscribed.has(name)
		if _, ok := t.held[name]; !ok && !named {
			t.setHeld(name, notHeld)
		}
	}
}

func (t *deltaType) setHeld(name, version string) {
	if t.held == nil {
		t.held = map[string]string{}
	}
	t.held[name] = version
}

// known is the version of a resource the client holds.
func (t *deltaType) known(name string) (string, bool) {
	if v, ok := t.held[name]; ok {
		return v, v != notHeld
	}
	if t.base != nil {
		if i, ok := t.base.byKey[name]; ok {
			return t.base.delta[i].Version, true
		}
	}
	return "", false
}

// deltaChanges is what one response carries; shared is set when it is a typeDiff every stream
// between the same two types sends.
type deltaChanges struct {
	changed []*discovery.Resource
	removed []string
	shared  *typeDiff
}

func (c deltaChanges) empty() bool { return len(c.changed) == 0 && len(c.removed) == 0 }

// changes lists what the client lacks of pt among what it asks for: the resources it does not
// hold at their version, and the names it holds that pt lacks.
func (t *deltaType) changes(pt *preparedType) deltaChanges {
	if len(t.held) == 0 {
		// The common case, every stream of the role alike: the shared changes from base, as
		// far as the client asks for them.
		d := pt.diffFrom(t.base)
		if t.wildcard {
			return deltaChanges{changed: d.changed, removed: d.removed, shared: d}
		}
		return t.filter(d)
	}
	// A client that reconnected with versions of its own, or changed its subscriptions: per
	// stream, once; after this response it holds pt like any other.
	var c deltaChanges
	if t.wildcard {
		for _, res := range pt.delta {
			if v, ok := t.known(res.Name); !ok || v != res.Version {
				c.changed = append(c.changed, res)
			}
		}
		for name, v := range t.held {
			if _, ok := pt.byKey[name]; !ok && v != notHeld {
				c.removed = append(c.removed, name)
			}
		}
		if t.base != nil {
			for _, name := range t.base.names {
				_, overridden := t.held[name]
				if _, ok := pt.byKey[name]; !ok && !overridden {
					c.removed = append(c.removed, name)
				}
			}
		}
	} else {
		var idx []int
		t.subscribed.each(func(name string) {
			i, ok := pt.byKey[name]
			v, held := t.known(name)
			switch {
			case ok && (!held || v != pt.delta[i].Version):
				idx = append(idx, i)
			case !ok && held:
				c.removed = append(c.removed, name)
			}
		})
		slices.Sort(idx)
		for _, i := range idx {
			c.changed = append(c.changed, pt.delta[i])
		}
	}
	slices.Sort(c.removed)
	return c
}

// filter keeps of d what the client subscribes to, shared when that is all of it.
func (t *deltaType) filter(d *typeDiff) deltaChanges {
	var c deltaChanges
	for _, res := range d.changed {
		if t.subscribed.has(res.Name) {
			c.changed = append(c.changed, res)
		}
	}
	for _, name := range d.removed {
		if t.subscribed.has(name) {
			c.removed = append(c.removed, name)
		}
	}
	if len(c.changed) == len(d.changed) && len(c.removed) == len(d.removed) {
		return deltaChanges{changed: d.changed, removed: d.removed, shared: d}
	}
	return c
}

// sent records that the client was sent c for pt: it now holds pt as far as it subscribes to
// it (a name of pt it did not ask for is marked when it does).
func (t *deltaType) sent(pt *preparedType, nonce string) {
	t.watching, t.force = false, false
	t.before, t.heldBefore, t.nonce, t.rejected = t.base, t.held, nonce, false
	t.base, t.held = pt, nil
}
