package main

import (
	"context"
	_ "embed"
	"fmt"
	"strings"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// axeSource is axe-core, the accessibility checker, injected into each page
// the browser tests check (see testdata/axe-core/README.md).
//
//go:embed testdata/axe-core/axe.min.js
var axeSource string

// axeVersion is the version of axeSource; expectAccessible checks that the
// file is that version, so that an update changes both.
const axeVersion = "4.14.1"

// axeViolation is one rule a page breaks, with the elements that break it.
type axeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
}

func (v axeViolation) String() string {
	return fmt.Sprintf("%s (%s): %s, at %s", v.ID, v.Impact, v.Help, strings.Join(v.Targets, ", "))
}

// axeRun runs axe-core's rules on the whole document, those it runs by
// default (WCAG 2 A and AA, and its best practices; not its experimental
// ones), and returns the violations, each with the CSS selectors of its
// elements. axe.run returns a promise, which the evaluation awaits.
const axeRun = `axe.run(document, {resultTypes: ["violations"]}).then(r => ({
	version: axe.version,
	violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
		targets: v.nodes.map(n => n.target.join(" "))}))}))`

// expectAccessible injects axe-core into the page and runs it with the
// light colour scheme and then the dark one, which the style sheet has as
// well, and fails on each serious or critical violation; the others are
// logged. It evaluates through the DevTools protocol, which the page's
// Content-Security-Policy (no script at all) does not govern.
//
// A tab with scripts off does not check: axe-core's own timers would not
// run, and a page's accessibility does not depend on it, as it has no
// script.
func (b *browser) expectAccessible(page string) {
	b.t.Helper()
	if b.noScripts {
		return
	}
	b.do("inject axe-core into "+page, chromedp.Evaluate[chromedp.Void](axeSource))
	var failed []string
	for _, scheme := range []string{"light", "dark"} {
		b.do("prefer the "+scheme+" colour scheme", colorScheme(scheme))
		res := step(b, "run axe-core on "+page, chromedp.Evaluate[struct {
			Version    string         `json:"version"`
			Violations []axeViolation `json:"violations"`
		}](axeRun, chromedp.EvalAwaitPromise))
		if res.Version != axeVersion {
			b.t.Fatalf("axe-core is %s, not %s as axeVersion says", res.Version, axeVersion)
		}
		for _, v := range res.Violations {
			if v.Impact != "serious" && v.Impact != "critical" {
				b.t.Logf("axe-core on %s, %s: %s", page, scheme, v)
				continue
			}
			failed = append(failed, scheme+": "+v.String())
		}
	}
	b.do("the browser's own colour scheme again", colorScheme(""))
	if len(failed) > 0 {
		b.t.Errorf("axe-core %s finds on %s:\n\t%s", axeVersion, page, strings.Join(failed, "\n\t"))
	}
}

// colorScheme makes the page see prefers-color-scheme as scheme, or as
// the browser has it when scheme is empty.
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		p := emulation.SetEmulatedMediaParams{}
		if scheme != "" {
			p.Features = []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}
		}
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, p)
		return chromedp.Void{}, err
	}
}
