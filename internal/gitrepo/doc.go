// Package gitrepo owns the scratch git repositories of the demo and the tests: a real
// repository on disk with a work tree, commits by a fixed author on a clock that advances one
// second per commit (so runs are repeatable), and reverts made with go-git alone (no git binary).
package gitrepo
