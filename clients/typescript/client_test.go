// Package typescript_test builds and runs the TypeScript client against a live node: the
// generated types must be those of internal/api/openapi.json, the document must pass the Redocly
// linter, the client must compile with tsc, and its journey (test/journey.ts) must pass against a
// `switchboard serve` this test starts.
package typescript_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestTypeScriptClient(t *testing.T) {
	if _, err := exec.LookPath("npm"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("npm is required in CI")
		}
		t.Skip("npm not installed")
	}
	if testing.Short() {
		t.Skip("-short: the TypeScript client needs npm packages and a node")
	}
	if _, err := os.Stat("node_modules/.bin/tsc"); err != nil {
		run(t, ".", nil, "npm", "ci", "--no-audit", "--no-fund")
	}

	// The committed types are generated from the document as it is.
	gen := filepath.Join(t.TempDir(), "schema.d.ts")
	run(t, ".", nil, "npx", "openapi-typescript", "../../internal/api/openapi.json", "-o", gen)
	got, _ := os.ReadFile(gen)
	want, _ := os.ReadFile("src/schema.d.ts")
	if !bytes.Equal(got, want) {
		t.Fatal("src/schema.d.ts is not generated from internal/api/openapi.json: run `npm run generate` in clients/typescript")
	}
	if out := run(t, ".", nil, "npx", "redocly", "lint", "--config", "redocly.yaml", "../../internal/api/openapi.json"); strings.Contains(out, "You have ") {
		t.Fatalf("the OpenAPI linter warns:\n%s", out)
	}
	run(t, ".", nil, "npx", "tsc", "-p", "tsconfig.json")

	// A live node on a free port, with its own database.
	dir := t.TempDir()
	bin := filepath.Join(dir, "switchboard")
	run(t, "../..", nil, "go", "build", "-o", bin, "./cmd/switchboard")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var log bytes.Buffer
	serve := exec.CommandContext(ctx, bin, "serve")
	serve.Dir = dir
	serve.Env = append(os.Environ(), "SWITCHBOARD_ADDR="+addr, "SWITCHBOARD_ENDPOINTS_ALLOW_PRIVATE=true")
	serve.Stdout, serve.Stderr = &log, &log
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = serve.Wait() }()
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready: %v\n%s", err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	key, err := os.ReadFile(filepath.Join(dir, "data", "dev-api-key"))
	if err != nil {
		t.Fatal(err)
	}
	out := run(t, ".", []string{"SWITCHBOARD_URL=" + base, "SWITCHBOARD_API_KEY=" + strings.TrimSpace(string(key))}, "node", "dist/test/journey.js")
	if !strings.Contains(out, "typescript client journey: ok") {
		t.Fatalf("journey output:\n%s\nnode log:\n%s", out, log.String())
	}
	fmt.Print(out)
}
