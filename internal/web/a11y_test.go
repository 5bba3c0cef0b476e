package web

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// relLuminance is WCAG 2's relative luminance of an sRGB colour "#rrggbb".
func relLuminance(t *testing.T, hex string) float64 {
	t.Helper()
	if len(hex) != 7 || hex[0] != '#' {
		t.Fatalf("colour %q is not #rrggbb", hex)
	}
	var ch [3]float64
	for i := range ch {
		v, err := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		if err != nil {
			t.Fatalf("colour %q: %v", hex, err)
		}
		c := float64(v) / 255
		if c <= 0.04045 {
			ch[i] = c / 12.92
		} else {
			ch[i] = math.Pow((c+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*ch[0] + 0.7152*ch[1] + 0.0722*ch[2]
}

// contrast is WCAG 2's contrast ratio of two colours.
func contrast(t *testing.T, a, b string) float64 {
	la, lb := relLuminance(t, a), relLuminance(t, b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func TestContrastFormula(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		want float64
	}{{"#000000", "#ffffff", 21}, {"#ffffff", "#ffffff", 1}, {"#777777", "#ffffff", 4.48}} {
		if got := contrast(t, tc.a, tc.b); math.Abs(got-tc.want) > 0.01 {
			t.Errorf("contrast(%s, %s) = %.2f, want %.2f", tc.a, tc.b, got, tc.want)
		}
	}
}

var (
	cssRule   = regexp.MustCompile(`(?s)([^{}]+)\{([^{}]*)\}`)
	cssVarDef = regexp.MustCompile(`--([a-z-]+):\s*(#[0-9a-fA-F]{6})\s*;`)
	cssDecl   = regexp.MustCompile(`(?:^|;)\s*(color|background|background-color)\s*:\s*var\(--([a-z-]+)\)`)
	hexColour = regexp.MustCompile(`#[0-9a-fA-F]{3,8}\b`)
)

// TestPaletteContrast computes, from the stylesheet itself, the contrast of every text colour a
// rule sets against the background it sits on (the rule's own, else the page's): each must be at
// least 4.5:1 (WCAG AA for normal text). Every colour must come from the :root palette, so that
// none escapes the check; the chart colours are checked too.
func TestPaletteContrast(t *testing.T) {
	t.Parallel()
	css, err := os.ReadFile("static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	palette := map[string]string{}
	checked := 0
	for _, rule := range cssRule.FindAllStringSubmatch(string(css), -1) {
		sel, body := strings.TrimSpace(rule[1]), rule[2]
		if sel == ":root" {
			for _, m := range cssVarDef.FindAllStringSubmatch(body, -1) {
				palette[m[1]] = strings.ToLower(m[2])
			}
			continue
		}
		if h := hexColour.FindString(body); h != "" {
			t.Errorf("%s uses the colour %s outside the :root palette", sel, h)
		}
		var fg, bg string
		for _, m := range cssDecl.FindAllStringSubmatch(body, -1) {
			if _, ok := palette[m[2]]; !ok {
				t.Errorf("%s uses --%s, which the palette does not define", sel, m[2])
				continue
			}
			if m[1] == "color" {
				fg = m[2]
			} else {
				bg = m[2]
			}
		}
		if fg == "" {
			continue
		}
		if bg == "" {
			bg = "bg"
		}
		checked++
		if c := contrast(t, palette[fg], palette[bg]); c < 4.5 {
			t.Errorf("%s: --%s on --%s has contrast %.2f:1, want at least 4.5:1", sel, fg, bg, c)
		}
	}
	if len(palette) < 10 || checked < 15 {
		t.Fatalf("parsed %d palette colours and %d text rules; the stylesheet parser is broken", len(palette), checked)
	}
	// The focus outline and borders are non-text: at least 3:1 against the page.
	for _, v := range []string{"focus", "border"} {
		if c := contrast(t, palette[v], palette["bg"]); c < 3 {
			t.Errorf("--%s on --bg has contrast %.2f:1, want at least 3:1", v, c)
		}
	}
	// Chart text and marks (charts.go draws with literal colours).
	for _, c := range []struct {
		colour string
		min    float64
	}{{"#1b1f24", 4.5}, {"#0b5cad", 3}, {"#57606a", 3}} {
		if got := contrast(t, c.colour, palette["bg"]); got < c.min {
			t.Errorf("chart colour %s on --bg: %.2f:1, want %.1f", c.colour, got, c.min)
		}
	}
	src, _ := os.ReadFile("charts.go")
	for _, h := range hexColour.FindAllString(string(src), -1) {
		if h != "#1b1f24" && h != "#0b5cad" && h != "#57606a" {
			t.Errorf("charts.go uses %s, which this test does not check", h)
		}
	}
	_ = fmt.Sprint()
}
