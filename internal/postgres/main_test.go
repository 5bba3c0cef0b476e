package postgres_test

import (
	"flag"
	"os"
	"testing"
)

// TestMain runs the conformance suite's parallel tests 8 at a time unless -parallel says
// otherwise: they wait on the server (schemas, migrations), not on this process's CPUs, and
// go test's default of GOMAXPROCS (2 on CI) leaves the server idle most of the time. Each test
// store holds at most 4 connections.
func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", "8")
	}
	os.Exit(m.Run())
}
