package compiler

import (
	"slices"

	"github.com/signalbox/signalbox/compiler/ir"
)

// nsSplit is how proxies divide among choices made per proxy namespace, as Istio makes some
// per proxy (the DestinationRule it takes: ruleVariants; the ServiceEntry of a host it sees:
// chooseEntries): the namespaces some policy names, each with its choice, and rest, the choice
// of every namespace none names (and of proxies without a namespace).
type nsSplit[T comparable] struct {
	named []string
	only  map[T][]string
	rest  T
}

// splitNamespaces asks choose for each named namespace, and once with elsewhere set for the rest.
func splitNamespaces[T comparable](named []string, choose func(ns string, elsewhere bool) T) nsSplit[T] {
	slices.Sort(named)
	named = slices.Compact(named)
	s := nsSplit[T]{named: named, only: map[T][]string{}}
	for _, ns := range named {
		x := choose(ns, false)
		s.only[x] = append(s.only[x], ns)
	}
	s.rest = choose("", true)
	return s
}

// scope is the proxy namespaces that choose x: the rest's choice is every namespace but the
// named ones that choose otherwise; nil when no namespace chooses x.
func (s nsSplit[T]) scope(x T) *ir.NamespaceScope {
	only := s.only[x]
	if x == s.rest {
		return &ir.NamespaceScope{Elsewhere: true, Except: slices.DeleteFunc(slices.Clone(s.named), func(ns string) bool { return slices.Contains(only, ns) })}
	}
	if len(only) == 0 {
		return nil
	}
	return &ir.NamespaceScope{Only: only}
}
