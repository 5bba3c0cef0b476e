package switchboard_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

var updateLicenses = flag.Bool("update-licenses", false, "rewrite THIRD_PARTY_LICENSES.md from the module cache")

// allowedLicenses are the licenses a module linked into the binary may carry: permissive ones,
// compatible with distributing the binary under Apache-2.0. A module under anything else fails
// TestThirdPartyLicenses until someone decides.
var allowedLicenses = map[string]bool{
	"Apache-2.0": true, "MIT": true, "BSD-2-Clause": true, "BSD-3-Clause": true, "ISC": true,
}

// permissive reports whether every license of id ("MIT AND Apache-2.0") is allowed.
func permissive(id string) bool {
	for _, l := range strings.Split(id, " AND ") {
		if !allowedLicenses[l] {
			return false
		}
	}
	return true
}

// TestThirdPartyLicenses checks that THIRD_PARTY_LICENSES.md lists every module linked into the
// switchboard binary (go list -deps ./cmd/switchboard) with the license found in that module's
// LICENSE file in the module cache, and that each license is a permissive one. Regenerate the
// file with: go test -run TestThirdPartyLicenses -update-licenses .
func TestThirdPartyLicenses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	mods := linkedModules(t)
	var b strings.Builder
	b.WriteString(licensesHeader)
	fmt.Fprintf(&b, "| Go standard library | %s | BSD-3-Clause | no |\n", goMinor(runtime.Version()))
	for _, m := range mods {
		text, notice := licenseText(t, m.Dir)
		id := classifyLicense(text)
		if !permissive(id) {
			t.Errorf("%s %s: license %q is not one of the allowed permissive licenses", m.Path, m.Version, id)
		}
		hasNotice := "no"
		if notice {
			hasNotice = "yes"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", m.Path, m.Version, id, hasNotice)
	}
	b.WriteString(licensesFooter)
	const file = "THIRD_PARTY_LICENSES.md"
	if *updateLicenses {
		if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != b.String() {
		t.Errorf("%s is out of date with go.mod; run: go test -run TestThirdPartyLicenses -update-licenses .\nwant:\n%s", file, b.String())
	}
}

// TestClassifyLicense pins the classifier on the texts it must tell apart.
func TestClassifyLicense(t *testing.T) {
	apache, err := os.ReadFile("LICENSE")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ text, want string }{
		{string(apache), "Apache-2.0"},
		{"Permission is hereby granted, free of charge, to any person", "MIT"},
		{"Redistribution and use in source and binary forms ... Neither the name of Google", "BSD-3-Clause"},
		{"Redistribution and use in source and binary forms, with or without modification", "BSD-2-Clause"},
		{"Permission is hereby granted, free of charge ...\n Apache License\n Version 2.0, January 2004", "MIT AND Apache-2.0"},
		{"Permission to use, copy, modify, and/or distribute this software", "ISC"},
		{"GNU GENERAL PUBLIC LICENSE Version 3", "unknown"},
	} {
		if got := classifyLicense(c.text); got != c.want {
			t.Errorf("classifyLicense(%.40q) = %q, want %q", c.text, got, c.want)
		}
	}
	if permissive("unknown") || permissive("MIT AND unknown") || !permissive("MIT AND BSD-3-Clause AND Apache-2.0") {
		t.Error("permissive misjudges a license list")
	}
}

const licensesHeader = `# Third-party licenses

Switchboard is licensed under the Apache License 2.0 (LICENSE, NOTICE). The ` + "`switchboard`" + `
binary links the Go modules below; each keeps its own license, whose full text is in the module's
source (and in the ` + "`licenses/`" + ` directory of a release archive made by ` + "`scripts/release.sh`" + `).
"NOTICE" says whether the module ships a NOTICE file, which Apache-2.0 section 4(d) asks
redistributors to pass on (release archives include it).

This file is generated and checked by ` + "`go test -run TestThirdPartyLicenses .`" + ` (add
` + "`-update-licenses`" + ` to rewrite it after a dependency changes).

| module | version | license | NOTICE |
|---|---|---|---|
`

const licensesFooter = `
## Other material

- **Twilio OpenAPI descriptions** (twilio-oai, MIT License, Copyright (C) 2023, Twilio, Inc.): the
  Twilio simulator (internal/twiliosim) and its tests reproduce resource shapes, field names and
  error codes from Twilio's published OpenAPI descriptions of the 2010-04-01, Messaging v1,
  Verify v2, Content v1 and Lookup v2 APIs; excerpts of those descriptions are kept in
  internal/twiliosim/testdata/openapi (with the license). The MIT License text:

  > Permission is hereby granted, free of charge, to any person obtaining a copy of this software
  > and associated documentation files (the "Software"), to deal in the Software without
  > restriction, including without limitation the rights to use, copy, modify, merge, publish,
  > distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
  > Software is furnished to do so, subject to the following conditions:
  >
  > The above copyright notice and this permission notice shall be included in all copies or
  > substantial portions of the Software.
  >
  > THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
  > BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
  > NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
  > DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
  > OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
`

type module struct {
	Path, Version, Dir string
	Main               bool
}

// linkedModules returns the modules (other than this one) of the packages linked into the binary.
func linkedModules(t *testing.T) []module {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=Module", "./cmd/switchboard")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	seen := map[string]module{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct{ Module *module }
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if p.Module == nil || p.Module.Main {
			continue
		}
		seen[p.Module.Path] = *p.Module
	}
	mods := make([]module, 0, len(seen))
	for _, m := range seen {
		if m.Dir == "" {
			t.Fatalf("module %s %s is not in the module cache (go mod download)", m.Path, m.Version)
		}
		mods = append(mods, m)
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	return mods
}

// licenseText reads the module's license file and reports whether it has a NOTICE file.
func licenseText(t *testing.T, dir string) (string, bool) {
	t.Helper()
	var text string
	for _, name := range []string{"LICENSE", "LICENSE.txt", "LICENSE.md", "COPYING", "LICENCE"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			text = string(b)
			break
		}
	}
	if text == "" {
		t.Errorf("%s: no LICENSE file", dir)
	}
	_, err := os.Stat(filepath.Join(dir, "NOTICE"))
	return text, err == nil
}

// classifyLicense names the license(s) of a license file by their characteristic sentences.
func classifyLicense(text string) string {
	text = strings.Join(strings.Fields(text), " ")
	var ids []string
	if strings.Contains(text, "Permission is hereby granted, free of charge") {
		ids = append(ids, "MIT")
	}
	if strings.Contains(text, "Redistribution and use in source and binary forms") {
		if strings.Contains(text, "Neither the name") || strings.Contains(text, "names of its contributors") {
			ids = append(ids, "BSD-3-Clause")
		} else {
			ids = append(ids, "BSD-2-Clause")
		}
	}
	if strings.Contains(text, "Permission to use, copy, modify, and/or distribute") ||
		strings.Contains(text, "Permission to use, copy, modify, and distribute this software for any purpose") {
		ids = append(ids, "ISC")
	}
	if strings.Contains(text, "Apache License") && strings.Contains(text, "Version 2.0") {
		ids = append(ids, "Apache-2.0")
	}
	if len(ids) == 0 || strings.Contains(text, "GNU GENERAL PUBLIC LICENSE") {
		return "unknown"
	}
	return strings.Join(ids, " AND ")
}

// goMinor turns "go1.26.8" into "go1.26".
func goMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}
