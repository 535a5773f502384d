package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// The CLI is tested as a user runs it: testdata/script/*.txtar hold the inputs and the exact
// expected output, positions included.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"signalbox": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       os.Getenv("SIGNALBOX_UPDATE_GOLDEN") == "1",
		RequireExplicitExec: true,
	})
}
