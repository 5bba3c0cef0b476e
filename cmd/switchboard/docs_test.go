package main

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/switchboard-gw/switchboard/internal/api"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/media"
)

// The docs-truth test: README.md and docs/*.md may name only routes, settings, commands and
// event types that exist, and must name every one that exists. The truth comes from the code:
// routes from the API's registered patterns and /openapi.json, settings from internal/config,
// commands from the cobra tree, event types from the domain's AppEventType constants.

// repoRoot is where README.md is, from this package's directory.
const repoRoot = "../.."

type mdDoc struct {
	name, text string
	spans      []string // inline code spans and the lines of fenced code blocks
}

func loadDocs(t *testing.T) []mdDoc {
	t.Helper()
	paths := []string{filepath.Join(repoRoot, "README.md")}
	more, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	paths = append(paths, more...)
	var docs []mdDoc
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(repoRoot, p)
		docs = append(docs, mdDoc{name: rel, text: string(raw), spans: codeSpans(string(raw))})
	}
	return docs
}

var fence = regexp.MustCompile("(?m)^```[a-z]*\\n([\\s\\S]*?)^```")

// codeSpans returns the fenced blocks' lines and the inline `code` spans (which may wrap lines).
func codeSpans(text string) []string {
	var spans []string
	for _, m := range fence.FindAllStringSubmatch(text, -1) {
		spans = append(spans, strings.Split(m[1], "\n")...)
	}
	rest := fence.ReplaceAllString(text, "")
	for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(rest, -1) {
		spans = append(spans, m[1])
	}
	return spans
}

// yamlBlocks returns the fenced ```yaml blocks.
func yamlBlocks(text string) []string {
	var out []string
	for _, m := range regexp.MustCompile("(?m)^```yaml\\n([\\s\\S]*?)^```").FindAllStringSubmatch(text, -1) {
		// Another program's configuration says so on its first line ("# prometheus.yml: …").
		if strings.HasPrefix(m[1], "# prometheus.yml") {
			continue
		}
		// A traffic profile is the simulator's, checked by TestDocsProfilesParse.
		if strings.HasPrefix(m[1], "# traffic profile") {
			continue
		}
		out = append(out, m[1])
	}
	return out
}

var (
	docRoute  = regexp.MustCompile(`\b(GET|POST|PUT|PATCH|DELETE) (/[A-Za-z0-9_./{}<>*-]*)`)
	pathParam = regexp.MustCompile(`\{[^}]*\}|<[^>]*>`)
)

func normRoute(method, path string) string {
	path = strings.ReplaceAll(path, "{$}", "") // ServeMux's "this path exactly": GET /{$} is GET /
	path = pathParam.ReplaceAllString(path, "{}")
	path = strings.TrimRight(path, ".")
	return method + " " + path
}

// twilioPaths are Twilio's own REST API as the simulator serves it (its rest.go): documented by
// Twilio, not routes of Switchboard.
var twilioPaths = []string{"/2010-04-01/", "/v1/Content/", "/v2/"}

// codeRoutes are the routes the node serves: the API's registered patterns, the OpenAPI
// document's paths (webhooks, the simulator's control API), /metrics and the media files.
func codeRoutes(t *testing.T) (all map[string]bool, mustDocument []string) {
	t.Helper()
	all = map[string]bool{}
	s := api.New(api.Config{})
	for _, p := range s.Routes() {
		method, path, ok := strings.Cut(p, " ")
		if !ok {
			continue // the /v1/ catch-all
		}
		r := normRoute(method, path)
		all[r] = true
		mustDocument = append(mustDocument, r)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/openapi.json", nil))
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("/openapi.json: %v", err)
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			r := normRoute(strings.ToUpper(method), path)
			all[r] = true
			if strings.HasPrefix(path, "/sim/") && !slices.Contains(mustDocument, r) {
				mustDocument = append(mustDocument, r)
			}
		}
	}
	// Registered by the node beside the API (internal/node).
	all["GET /metrics"] = true
	all[normRoute("GET", media.Path+"{sha256}")] = true
	sort.Strings(mustDocument)
	return all, mustDocument
}

// cliTree is every command path ("messages get") with its flags.
func cliTree() (paths []string, cmds map[string]*cobra.Command, flags map[string]bool) {
	root := newRoot(io.Discard, io.Discard, func(string) string { return "" })
	root.InitDefaultCompletionCmd() // cobra adds it when a command line runs
	cmds, flags = map[string]*cobra.Command{}, map[string]bool{"help": true}
	var walk func(c *cobra.Command, prefix string)
	walk = func(c *cobra.Command, prefix string) {
		c.Flags().VisitAll(func(f *pflag.Flag) { flags[f.Name] = true })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { flags[f.Name] = true })
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" {
				continue
			}
			p := strings.TrimSpace(prefix + " " + sub.Name())
			paths = append(paths, p)
			cmds[p] = sub
			walk(sub, p)
		}
	}
	walk(root, "")
	return paths, cmds, flags
}

// domainConsts returns the string constants of the named type in the root (domain) package.
func domainConsts(t *testing.T, typeName string) []string {
	t.Helper()
	fset := token.NewFileSet()
	//nolint:staticcheck // SA1019: the root package has no build-tagged files, so ParseDir's blindness to tags loses nothing
	pkgs, err := parser.ParseDir(fset, repoRoot, func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			ast.Inspect(f, func(n ast.Node) bool {
				vs, ok := n.(*ast.ValueSpec)
				if !ok || vs.Type == nil {
					return true
				}
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != typeName {
					return true
				}
				for _, v := range vs.Values {
					if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, _ := strconv.Unquote(lit.Value)
						out = append(out, s)
					}
				}
				return true
			})
		}
	}
	sort.Strings(out)
	return out
}

// envReadByCode returns the environment variables the code reads by name: getenv("X"),
// os.Getenv("X"), os.LookupEnv("X") and t.Setenv("X") anywhere in the module, and constants
// named ...Env that hold one (const TestURLEnv = "SWITCHBOARD_TEST_POSTGRES_URL").
func envReadByCode(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	re := regexp.MustCompile(`(?:(?i:getenv|lookupenv|setenv)\(|\w+Env\s*=\s*)"((?:SWITCHBOARD|TWILIO)_[A-Z0-9_]+)"`)
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && p != repoRoot {
			if d != nil && d.IsDir() {
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") {
			return nil
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllStringSubmatch(string(raw), -1) {
			out[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// foreignFlags are flags of other programs the docs show.
var foreignFlags = map[string]string{
	"no-summary": "clamdscan's, in the media_scan_command example",
	"wal-method": "pg_basebackup's, in docs/production.md's backups",
	"checkpoint": "pg_basebackup's",
	"pgdata":     "pg_basebackup's",
	"progress":   "pg_basebackup's",
	"gzip":       "pg_basebackup's",
	"dbname":     "pg_dump's and pg_restore's",
	"file":       "pg_dump's",
	"no-owner":   "pg_restore's",
	"check":      "scripts/release.sh's reproducibility check",
}

func TestDocsTruth(t *testing.T) {
	t.Parallel()
	docs := loadDocs(t)
	readme := docs[0]
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }

	// Routes.
	routes, mustDocument := codeRoutes(t)
	documented := map[string]bool{}
	for _, d := range docs {
		for _, m := range docRoute.FindAllStringSubmatch(d.text, -1) {
			path, _, _ := strings.Cut(m[2], "?")
			r := normRoute(m[1], path)
			documented[r] = true
			if routes[r] || slices.ContainsFunc(twilioPaths, func(p string) bool { return strings.HasPrefix(path, p) }) {
				continue
			}
			bad("%s names the route %q, which does not exist", d.name, m[1]+" "+m[2])
		}
	}
	for _, r := range mustDocument {
		if !documented[r] {
			bad("the route %q exists and no document names it", r)
		}
	}
	for r := range routes {
		if _, path, _ := strings.Cut(r, " "); strings.HasPrefix(path, "/webhooks/") {
			if p := strings.TrimSuffix(strings.Split(path, "{}")[0], "/"); !strings.Contains(readme.text, p) {
				bad("the webhook %q exists and the README does not name it", r)
			}
		}
	}

	// Settings: environment variables, flags and YAML keys.
	envs := map[string]string{"SWITCHBOARD_CONFIG": "config"}
	defaults := map[string]bool{}
	for _, row := range config.Settings() {
		envs[row[1]] = row[0]
		defaults[row[2]] = true
	}
	read := envReadByCode(t)
	envRe := regexp.MustCompile(`\b(?:SWITCHBOARD|TWILIO)_[A-Z0-9_]+\b`)
	for _, d := range docs {
		for _, e := range envRe.FindAllString(d.text, -1) {
			if _, ok := envs[e]; !ok && !read[e] && !defaults[e] {
				bad("%s names the environment variable %s, which nothing reads", d.name, e)
			}
		}
	}
	cmdPaths, cmds, flags := cliTree()
	flagRe := regexp.MustCompile(`(?:^|[\s(\[|])--([a-z][a-z0-9-]*)`)
	for _, d := range docs {
		for _, s := range d.spans {
			for _, m := range flagRe.FindAllStringSubmatch(s, -1) {
				if !flags[m[1]] && foreignFlags[m[1]] == "" {
					bad("%s names the flag --%s, which no command has", d.name, m[1])
				}
			}
		}
	}
	known := map[string]bool{}
	for _, k := range config.StructuredKeys() {
		known[k] = true
	}
	for _, k := range config.SettingKeys() {
		known[k] = true
		env := config.Env(k)
		if !strings.Contains(readme.text, "`"+env+"`") {
			bad("the setting %s exists and the README does not name its variable %s", k, env)
		}
		if !strings.Contains(readme.text, "`"+k+"`") {
			bad("the setting %s exists and the README does not name its YAML key", k)
		}
		if !config.IsSecret(k) && !strings.Contains(readme.text, "`--"+config.FlagName(k)+"`") {
			bad("the setting %s exists and the README does not name its flag --%s", k, config.FlagName(k))
		}
	}
	// The configuration table: each row's flag, key and default are the setting's.
	rowRe := regexp.MustCompile("(?m)^\\| `((?:SWITCHBOARD|TWILIO)_[A-Z0-9_]+)` \\| ([^|]*) \\| ([^|]*) \\| ([^|]*) \\|")
	rows := 0
	for _, m := range rowRe.FindAllStringSubmatch(readme.text, -1) {
		rows++
		key, ok := envs[m[1]]
		if !ok {
			continue // reported above
		}
		var def string
		for _, row := range config.Settings() {
			if row[0] == key {
				def = row[2]
			}
		}
		wantFlag := "`--" + config.FlagName(key) + "`"
		if config.IsSecret(key) {
			wantFlag = "—"
		}
		wantDef := "`" + def + "`"
		if def == "" {
			wantDef = "—"
		}
		if key == "config" {
			wantFlag, wantDef = "`--config`", "—"
		}
		got := []string{strings.TrimSpace(m[2]), strings.TrimSpace(m[3]), strings.TrimSpace(m[4])}
		if want := []string{wantFlag, "`" + key + "`", wantDef}; !slices.Equal(got, want) {
			bad("README configuration table row %s says %v, the code %v", m[1], got, want)
		}
	}
	if rows < len(config.SettingKeys()) {
		bad("the README configuration table has %d rows for %d settings", rows, len(config.SettingKeys()))
	}
	for _, d := range docs {
		for _, block := range yamlBlocks(d.text) {
			for _, m := range regexp.MustCompile(`(?m)^([a-z_]+):`).FindAllStringSubmatch(block, -1) {
				if !known[m[1]] {
					bad("%s shows the configuration key %q, which does not exist", d.name, m[1])
				}
			}
		}
	}

	// Commands.
	var tokens [][]string
	for _, d := range docs {
		for _, s := range d.spans {
			tokens = append(tokens, strings.Fields(s))
		}
	}
	word := regexp.MustCompile(`^[a-z][a-z|-]*$`)
	named := map[string]bool{}
	for _, toks := range tokens {
		for i, tok := range toks {
			if tok != "switchboard" && !strings.HasSuffix(tok, "/switchboard") || i+1 >= len(toks) || !word.MatchString(toks[i+1]) {
				continue
			}
			for _, top := range strings.Split(toks[i+1], "|") {
				c, ok := cmds[top]
				if !ok {
					bad("the docs name the command 'switchboard %s', which does not exist", top)
					continue
				}
				named[top] = true
				// "switchboard a b c|d" names "a b c" and "a b d": go down while one word names one
				// subcommand.
				for prefix, j := top, i+2; j+1 < len(toks) && word.MatchString(toks[j]) && !strings.Contains(toks[j], "|"); j++ {
					if _, ok := cmds[prefix+" "+toks[j]]; !ok {
						break
					}
					prefix += " " + toks[j]
					for _, sub := range strings.Split(toks[j+1], "|") {
						if _, ok := cmds[prefix+" "+sub]; ok {
							named[prefix+" "+sub] = true
						}
					}
				}
				if c.HasSubCommands() && i+2 < len(toks) && word.MatchString(toks[i+2]) {
					for _, sub := range strings.Split(toks[i+2], "|") {
						if _, ok := cmds[top+" "+sub]; !ok {
							bad("the docs name the command 'switchboard %s %s', which does not exist", top, sub)
						}
					}
				}
			}
		}
		// "parent child|child" anywhere names subcommands.
		for i := 0; i+1 < len(toks); i++ {
			for _, sub := range strings.Split(toks[i+1], "|") {
				if _, ok := cmds[toks[i]+" "+sub]; ok {
					named[toks[i]+" "+sub] = true
				}
			}
		}
	}
	for _, p := range cmdPaths {
		if !named[p] {
			bad("the command 'switchboard %s' exists and no document names it", p)
		}
	}

	// Event types.
	types := domainConsts(t, "AppEventType")
	if len(types) < 10 {
		t.Fatalf("found only %d event types in the domain package", len(types))
	}
	prefixes := map[string]bool{}
	for _, ty := range types {
		p, _, _ := strings.Cut(ty, ".")
		prefixes[p] = true
		if !regexp.MustCompile("(?m)^\\| `" + regexp.QuoteMeta(ty) + "` \\|").MatchString(readme.text) {
			bad("the event type %s exists and the README's events table does not list it", ty)
		}
	}
	evRe := regexp.MustCompile(`^([a-z]+)\.([a-z_]+|\*)$`)
	for _, d := range docs {
		for _, s := range d.spans {
			m := evRe.FindStringSubmatch(strings.Trim(s, `"'`))
			if m == nil || !prefixes[m[1]] || m[2] == "*" {
				continue
			}
			if !slices.Contains(types, s) && !strings.Contains(s, "yaml") {
				bad("%s names the event type %s, which does not exist", d.name, s)
			}
		}
	}

	// The channels POST /v1/messages takes.
	row := regexp.MustCompile("(?m)^\\| `POST /v1/messages` \\|.*$").FindString(readme.text)
	for _, ch := range domainConsts(t, "Channel") {
		if !strings.Contains(row, "`"+ch+"`") {
			bad("the README's POST /v1/messages row does not list the channel %s", ch)
		}
	}

	// The exit codes (exit.go) are the README's table.
	_, table, _ := strings.Cut(readme.text, "**Exit codes.**")
	table, _, _ = strings.Cut(table, "\n\n## ")
	var codes []int
	for _, m := range regexp.MustCompile(`(?m)^\| (\d+) \|`).FindAllStringSubmatch(table, -1) {
		n, _ := strconv.Atoi(m[1])
		codes = append(codes, n)
	}
	if want := []int{exitOK, exitFailure, exitUsage, exitNotFound, exitRefused, exitUnreachable, exitUnauthorized}; !slices.Equal(codes, want) {
		bad("the README's exit codes are %v, the code's %v", codes, want)
	}

	sort.Strings(problems)
	for _, p := range slices.Compact(problems) {
		t.Error(p)
	}
}
