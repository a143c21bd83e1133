// Package metricstest reads a Prometheus scrape in tests: it fetches /metrics, parses it with
// Prometheus's own text parser, and finds series by name and labels.
package metricstest

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scrape is one parsed scrape: metric families by name.
type Scrape map[string]*dto.MetricFamily

// Get scrapes url (a /metrics URL) as Prometheus would; the answer must be 200 in the text format.
func Get(t testing.TB, url string) Scrape {
	t.Helper()
	client := &http.Client{Timeout: time.Minute}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape %s: status %d, want 200: %s", url, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("scrape %s: Content-Type %q, want Prometheus's text format", url, ct)
	}
	s, err := Parse(resp.Body)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	return s
}

// Parse parses Prometheus's text format.
func Parse(r io.Reader) (Scrape, error) {
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("not Prometheus's text format: %w", err)
	}
	return fams, nil
}

// Value is the sum over the series of name whose labels include labels (pairs of name and
// value): a counter's or gauge's value, or a histogram's count of observations. It is 0 when no
// series matches; Has tells the two apart.
func (s Scrape) Value(name string, labels ...string) float64 {
	var sum float64
	for _, m := range s.series(name, labels) {
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			sum += m.Untyped.GetValue()
		}
	}
	return sum
}

// Has reports whether a series of name has labels.
func (s Scrape) Has(name string, labels ...string) bool { return len(s.series(name, labels)) > 0 }

func (s Scrape) series(name string, labels []string) []*dto.Metric {
	f := s[name]
	if f == nil {
		return nil
	}
	var out []*dto.Metric
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		ok := true
		for i := 0; i+1 < len(labels); i += 2 {
			if v, found := have[labels[i]]; !found || v != labels[i+1] {
				ok = false
			}
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

// LabelValues are every label value in the scrape, as "metric{label=value}", sorted.
func (s Scrape) LabelValues() []string {
	var out []string
	for name, f := range s {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				out = append(out, fmt.Sprintf("%s{%s=%q}", name, l.GetName(), l.GetValue()))
			}
		}
	}
	sort.Strings(out)
	return out
}
