package e2e

import (
	"strings"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"rolegate/idp"
)

// narrow makes the browser a 320 px wide phone: the narrowest width pages must fit (WCAG 1.4.10).
func (f *fixture) narrow() {
	f.t.Helper()
	if _, err := chromedp.Call(f.browser, emulation.SetDeviceMetricsOverride,
		emulation.SetDeviceMetricsOverrideParams{Width: 320, Height: 720, DeviceScaleFactor: 1, Mobile: true}); err != nil {
		f.t.Fatal(err)
	}
}

// fits fails the test when the page is wider than the 320 px viewport: a sideways scroll.
func (f *fixture) fits(page string) {
	f.t.Helper()
	if w := run(f, "the page width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 320 {
		f.screenshot(page + "-320-overflow")
		f.t.Errorf("the %s page is %d px wide at 320 px", page, w)
	}
}

// TestRecoveryCodesFitA320PixelPhoneAndCopy: at 320 px the recovery codes are one column, each code
// on one line inside the screen; Copy (shown by its script) puts them on the clipboard, Download is
// a data: link; the keyboard's focus ring is the light theme's 3:1 colour; no CSP complaints.
func TestRecoveryCodesFitA320PixelPhoneAndCopy(t *testing.T) {
	f := newFixture(t)
	f.narrow()
	for _, p := range []string{"clipboard-read", "clipboard-write"} { // so that the test can read back what Copy wrote
		if _, err := chromedp.CallBrowser(f.browser, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: p}, Setting: browser.PermissionSettingGranted, Origin: f.base}); err != nil {
			t.Fatal(err)
		}
	}
	f.do("open the sign-in page", chromedp.Navigate(f.base+"/login"), chromedp.WaitVisible(signInPage))
	f.fits("sign-in")
	f.do("tab to the password", chromedp.KeyEvent("\t"))
	ring := run(f, "the focus ring", chromedp.Evaluate[string](
		`(s => document.activeElement.id + " " + s.outlineStyle + " " + s.outlineWidth + " " + s.outlineColor)(getComputedStyle(document.activeElement))`))
	if ring != "password solid 3px rgb(154, 74, 0)" {
		t.Errorf("the focused field shows %q; want password solid 3px rgb(154, 74, 0)", ring)
	}

	f.openWindow("")
	f.signIn()
	f.do("open two-step sign-in", chromedp.Navigate(f.base+"/account/mfa"), chromedp.WaitVisible(chromedp.CSS(`#add-totp`)))
	f.enrollTOTP("recovery-320")
	f.fits("recovery codes")
	type box struct {
		Lines int     `json:"lines"`
		Left  float64 `json:"left"`
		Right float64 `json:"right"`
	}
	boxes := run(f, "measure the codes", chromedp.Evaluate[[]box](`[...document.querySelectorAll("#recovery-codes code")].map(c => {
		const r = c.getBoundingClientRect();
		return {lines: c.getClientRects().length, left: r.left, right: r.right};
	})`))
	for i, b := range boxes {
		if b.Lines != 1 || b.Right > 320 || b.Left < 0 || (i > 0 && b.Left != boxes[0].Left) {
			t.Errorf("code %d is at %+v; want one line inside 320 px, in one column with the first", i+1, b)
		}
	}
	if href := run(f, "the Download link", chromedp.Evaluate[string](`document.getElementById("download-codes").getAttribute("href")`)); !strings.HasPrefix(href, "data:text/plain;charset=utf-8,Rolegate") {
		t.Errorf("Download links to %.60q…; want a data: text file", href)
	}
	f.do("copy the codes", chromedp.WaitVisible(chromedp.CSS(`#copy-codes`)), chromedp.Click(chromedp.CSS(`#copy-codes`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("copy-status").textContent !== ""`, chromedp.WithPollingTimeout(5e9)))
	if said := run(f, "the copy status", chromedp.Text(chromedp.CSS(`#copy-status`))); said != "Copied to the clipboard." {
		t.Errorf("Copy says %q", said)
	}
	shown := run(f, "the codes shown", chromedp.Evaluate[string](`[...document.querySelectorAll("#recovery-codes code")].map(c => c.textContent).join("\n") + "\n"`))
	copied := run(f, "the clipboard", chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	if copied != shown {
		t.Errorf("the clipboard holds %q; want the codes one a line %q", copied, shown)
	}
	if v := f.cspViolations(); len(v) > 0 {
		t.Errorf("CSP violations:\n%s", strings.Join(v, "\n"))
	}
}

// TestTheDemoCheckerFitsA320PixelPhone: the checker's facts stack and its ARNs wrap at 320 px, and
// a one-hour session reads 1h.
func TestTheDemoCheckerFitsA320PixelPhone(t *testing.T) {
	f := newFixture(t, func(cfg *idp.Config) { cfg.DemoAccounts = []string{accountID} })
	f.narrow()
	f.signIn()
	f.clickThrough("take the Admin role into the checker", chromedp.CSS(`a.role[href$="role=Admin"]`), chromedp.CSS(`dl.facts`))
	f.fits("checker")
	text := run(f, "the checker", chromedp.Text(chromedp.CSS(`dl.facts`)))
	if !strings.Contains(text, "Console session\n1h") && !strings.Contains(text, "Console session 1h") {
		t.Errorf("the checker's facts do not say a 1h console session:\n%s", text)
	}
	if strings.Contains(text, "59m") {
		t.Errorf("the checker shows a duration off by a moment:\n%s", text)
	}
	f.screenshot("checker-320")
}
