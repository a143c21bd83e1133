package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"rolegate/store"
)

// axeSHA256 is the sum of the vendored axe-core (see testdata/axe-core/README.md).
const axeSHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"

// seedAccounts gives alice's group devs ReadOnly and PowerUser in n more accounts, named
// team-NNN-LABEL and labelled prod, staging and sandbox in turn.
func (f *fixture) seedAccounts(n int) {
	f.t.Helper()
	ctx := context.Background()
	labels := []string{"prod", "staging", "sandbox"}
	for i := range n {
		id := fmt.Sprintf("%012d", 900000000000+i)
		if err := f.st.CreateAccount(ctx, &store.Account{ID: id, Alias: fmt.Sprintf("team-%03d-%s", i, labels[i%3]),
			ProviderName: "Rolegate", Partition: store.PartitionAWS, Label: labels[i%3]}); err != nil {
			f.t.Fatal(err)
		}
		for _, role := range []string{"ReadOnly", "PowerUser"} {
			if err := f.st.CreateGrant(ctx, &store.Grant{Group: "devs", AccountID: id, Role: role}); err != nil {
				f.t.Fatal(err)
			}
		}
	}
}

// portalState is what the portal shows, read in the browser.
type portalState struct {
	Active   string   // the focused element's id
	Status   string   // the filter's status line
	Accounts []string // aliases of the account cards shown
	Roles    int      // role rows shown in account cards
	Overflow bool     // the page is wider than the window
	Search   string   // location.search
}

const readPortal = `(() => {
  const shown = el => el.offsetParent !== null;
  return {
    Active: document.activeElement ? document.activeElement.id : "",
    Status: document.getElementById("filter-status").textContent.trim(),
    Accounts: [...document.querySelectorAll("li.account")].filter(shown).map(a => a.dataset.a),
    Roles: [...document.querySelectorAll("li.account li[data-r]")].filter(shown).length,
    Overflow: document.documentElement.scrollWidth > window.innerWidth,
    Search: location.search,
  };
})()`

func (f *fixture) portal() portalState {
	f.t.Helper()
	return run(f, "read the portal", chromedp.Evaluate[portalState](readPortal))
}

// typeKeys types into the focused element with key events, as a person at a keyboard does.
func (f *fixture) typeKeys(what, keys string) {
	f.t.Helper()
	f.do(what, chromedp.KeyEvent(keys))
}

// axe runs the vendored axe-core on the page and fails the test on any violation.
func (f *fixture) axe(where string) {
	f.t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "axe-core", "axe.min.js"))
	if err != nil {
		f.t.Fatalf("axe-core is vendored in testdata/axe-core: %v", err)
	}
	if sum := sha256.Sum256(src); hex.EncodeToString(sum[:]) != axeSHA256 {
		f.t.Fatalf("testdata/axe-core/axe.min.js is not the vendored axe-core 4.14.1 (sha256 %x)", sum)
	}
	type violation struct {
		ID, Impact, Help string
		Nodes            []string
	}
	// Injected over DevTools, outside the page's CSP, as a browser extension would be.
	f.do("inject axe-core", chromedp.Evaluate[chromedp.Void](string(src)+"\n;undefined"))
	vs := run(f, "run axe-core on "+where, chromedp.Evaluate[[]violation](`axe.run(document, {resultTypes: ["violations"]}).then(r =>
		r.violations.map(v => ({ID: v.id, Impact: v.impact || "", Help: v.help, Nodes: v.nodes.slice(0, 3).map(n => n.html)})))`,
		chromedp.EvalAwaitPromise))
	for _, v := range vs {
		f.t.Errorf("axe-core on %s: %s (%s): %s\n  %s", where, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n  "))
	}
}

// TestPortalWith200AccountsByKeyboard: with 200 accounts (402 roles) the filter has the focus when
// the portal opens and is the first stop after the skip link; typing filters at once, Escape
// clears, a star is set from the keyboard and keeps the filter; at 1280, 390 and 320 px the page
// does not scroll sideways; axe-core finds no violation; the browser reports no CSP violation.
func TestPortalWith200AccountsByKeyboard(t *testing.T) {
	f := newFixture(t)
	f.seedAccounts(200)
	f.signIn()

	// Keyboard users start in the filter; from the top, the skip link leads to it.
	if s := f.portal(); s.Active != "q" || s.Status != "402 of 402 roles" || s.Roles != 402 {
		t.Fatalf("the portal opens with %+v; want the focus in the filter and 402 of 402 roles", s)
	}
	type stop struct{ Tag, ID, Class, Text string }
	stops := run(f, "list the tab stops", chromedp.Evaluate[[]stop](`[...document.querySelectorAll("a[href], button, input:not([type=hidden])")]
		.filter(e => e.tabIndex >= 0 && !e.disabled).slice(0, 6)
		.map(e => ({Tag: e.tagName, ID: e.id, Class: e.className, Text: e.textContent.trim()}))`))
	if len(stops) < 1 || stops[0].Class != "skip" {
		t.Fatalf("the first tab stop is %+v; want the skip link", stops)
	}
	f.do("Tab to the skip link and follow it",
		chromedp.Evaluate[chromedp.Void](`document.activeElement.blur(); window.scrollTo(0, 0); document.querySelector("a.skip").focus()`),
		chromedp.KeyEvent("\r"),
		chromedp.KeyEvent("\t"),
	)
	if s := f.portal(); s.Active != "q" {
		t.Fatalf("after the skip link, Tab focuses %q; want the filter", s.Active)
	}

	for _, width := range []int64{1280, 390, 320} {
		f.do("open the portal at this width", chromedp.EmulateViewport(width, 800),
			chromedp.Navigate(f.base+"/"), chromedp.WaitVisible(portalPage))
		if s := f.portal(); s.Overflow || s.Active != "q" {
			t.Errorf("at %d px: %+v; want no sideways scroll and the focus in the filter", width, s)
		}
		f.typeKeys("type a filter", "team-04")
		s := f.portal()
		if len(s.Accounts) != 10 || s.Roles != 20 || s.Status != "20 of 402 roles" || s.Search != "?q=team-04" || s.Overflow {
			t.Fatalf("at %d px, after typing team-04: %+v; want 10 accounts, 20 roles, ?q=team-04, no sideways scroll", width, s)
		}
		for _, a := range s.Accounts {
			if !strings.HasPrefix(a, "team-04") {
				t.Errorf("the filter team-04 shows %s", a)
			}
		}
		f.screenshot(fmt.Sprintf("portal-filter-%d", width))
		f.axe(fmt.Sprintf("the filtered portal at %d px", width))

		f.typeKeys("clear with Escape", "\x1b")
		if s := f.portal(); s.Roles != 402 || s.Status != "402 of 402 roles" || s.Search != "" {
			t.Fatalf("at %d px, after Escape: %+v; want everything again", width, s)
		}
		f.typeKeys("type two words", "staging poweruser")
		if s := f.portal(); len(s.Accounts) != 67 || s.Roles != 67 {
			t.Fatalf("at %d px, after typing 'staging poweruser': %d accounts, %d roles; want 67 and 67", width, len(s.Accounts), s.Roles)
		}
		f.typeKeys("type one more word that matches nothing", " nothing")
		if shown := run(f, "no-match message", chromedp.Evaluate[bool](`!document.getElementById("no-match").hidden`)); !shown {
			t.Errorf("at %d px nothing matches, and the page does not say so", width)
		}
	}

	// A star from the keyboard: focus it, press Enter; it turns on in place, the focus stays on
	// it, and the next visit lists it on top, with the filter as it was.
	star := chromedp.CSS(`li.account#a-900000000042 li[data-r=ReadOnly] button.star`)
	f.do("filter, then star team-042's ReadOnly with Enter",
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(f.base+"/?q=team-042"), chromedp.WaitVisible(portalPage),
		chromedp.Focus(star),
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS(`li.account#a-900000000042 li[data-r=ReadOnly] button.star[aria-pressed=true]:focus`)),
	)
	alice, err := f.st.GetUser(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if favs, err := f.st.ListFavourites(context.Background(), alice.ID); err != nil || len(favs) != 1 ||
		favs[0].AccountID != "900000000042" || favs[0].Role != "ReadOnly" {
		t.Fatalf("after the star the store holds %+v, %v", favs, err)
	}
	f.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#fav-title`)))
	s := f.portal()
	if s.Search != "?q=team-042" || s.Roles != 2 {
		t.Errorf("after the star: %+v; want the filter kept", s)
	}
	fav := run(f, "the favourite", chromedp.Evaluate[string](
		`[...document.querySelectorAll("section[aria-labelledby=fav-title] li.pick")].map(li => li.dataset.a + " " + li.dataset.r).join(",")`))
	if fav != "team-042-prod ReadOnly" {
		t.Errorf("the favourites are %q; want team-042-prod ReadOnly", fav)
	}
	pressed := run(f, "the star's state", chromedp.Evaluate[string](
		`document.querySelector("li.account#a-900000000042 li[data-r=ReadOnly] button.star").getAttribute("aria-pressed")`))
	if pressed != "true" {
		t.Errorf("the star says aria-pressed=%s after a reload", pressed)
	}
	f.do("take the star off the favourite at the top with Enter",
		chromedp.Focus(chromedp.CSS(`section[aria-labelledby=fav-title] button.star`)),
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS(`li.account#a-900000000042 li[data-r=ReadOnly] button.star[aria-pressed=false]`)),
	)
	if favs, err := f.st.ListFavourites(context.Background(), alice.ID); err != nil || len(favs) != 0 {
		t.Fatalf("after taking the star off the store holds %+v, %v", favs, err)
	}
	// The copy button of a role copies that role's rolegate login command.
	copyCLI := chromedp.CSS(`li.account#a-900000000042 li[data-r=ReadOnly] button.copy`)
	label := run(f, "the copy button", chromedp.AttributeValue(copyCLI, "aria-label")).Value
	if label != "Copy CLI: the rolegate login command for team-042-prod ReadOnly" {
		t.Errorf("the copy button is labelled %q", label)
	}
	for _, name := range []string{"clipboard-read", "clipboard-write"} { // to read it back
		if _, err := chromedp.Call(f.browser, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name}, Setting: browser.PermissionSettingGranted, Origin: f.base}); err != nil {
			t.Fatal(err)
		}
	}
	f.do("copy the command", chromedp.Focus(copyCLI), chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS(`li.account#a-900000000042 li[data-r=ReadOnly] button.copy:focus`)))
	run(f, "wait for Copied", chromedp.Poll[bool](`document.querySelector("li.account#a-900000000042 li[data-r=ReadOnly] button.copy").textContent === "Copied"`))
	copied := run(f, "read the clipboard", chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	if want := "rolegate login --url " + f.base + " --account team-042-prod --role ReadOnly"; copied != want {
		t.Errorf("the clipboard holds %q; want %q", copied, want)
	}
	f.axe("the portal with a favourite")
	if v := f.cspViolations(); len(v) > 0 {
		t.Errorf("CSP violations on the portal:\n%s", strings.Join(v, "\n"))
	}

	// The whole page, unfiltered, with all 200 accounts.
	f.do("open the whole portal", chromedp.Navigate(f.base+"/"), chromedp.WaitVisible(portalPage))
	f.axe("the portal with 200 accounts")
}
