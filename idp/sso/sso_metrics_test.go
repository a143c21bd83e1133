package sso_test

import (
	"context"
	"testing"

	"github.com/crewjam/saml"

	"rolegate/internal/metricstest"
)

func TestSPSignInsCountAsIssuedAndRefusedOfKindSP(t *testing.T) {
	w := newSSOWeb(t, false)
	b := w.Browser(t)
	resp, body := b.Get(w.redirectPath(t, w.authnRequest(t, w.sp, saml.HTTPRedirectBinding), ""))
	start(t, b, resp, body)
	walk(t, b)

	// A second request, whose SP is removed before the signed-in person continues.
	b.Get(w.redirectPath(t, w.authnRequest(t, w.sp, saml.HTTPRedirectBinding), ""))
	if err := w.Store.DeleteServiceProvider(context.Background(), testSPEntityID); err != nil {
		t.Fatal(err)
	}
	b.Get("/saml/sso/continue")

	s := metricstest.Get(t, w.Srv.URL+"/metrics")
	if got := s.Value("rolegate_assertions_issued_total", "kind", "sp"); got != 1 {
		t.Errorf("issued to the SP: %v, want 1\n%v", got, s.LabelValues())
	}
	if got := s.Value("rolegate_assertions_refused_total", "kind", "sp", "reason", "invalid"); got != 1 {
		t.Errorf("refused for the removed SP: %v, want 1\n%v", got, s.LabelValues())
	}
	for _, l := range s.LabelValues() {
		if l == `rolegate_assertions_issued_total{account="unknown"}` {
			t.Errorf("an SP's assertion is labelled with an unknown AWS account")
		}
	}
}
