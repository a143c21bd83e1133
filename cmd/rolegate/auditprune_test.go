package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"rolegate/store"
)

// seedAudit appends n events through the store, from 4 goroutines: types, users and accounts in turn,
// at when(i).
func seedAudit(t *testing.T, st store.Store, n int, when func(i int) time.Time) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				e := &store.AuditEvent{Time: when(i), Type: []string{"login", "assertion", "account.set"}[i%3], User: fmt.Sprintf("u%d", i%5),
					Result: "ok", Details: map[string]string{"account": []string{"prod", "dev"}[i%2], "n": fmt.Sprint(i)}}
				if err := st.AppendAudit(context.Background(), e); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// jsonl decodes one JSON object a line, failing on anything else.
func jsonl(t *testing.T, out string) []auditJSONOut {
	t.Helper()
	var events []auditJSONOut
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		var e auditJSONOut
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %d is not one JSON object: %v\n%s", i+1, err, line)
		}
		events = append(events, e)
	}
	return events
}

func sameEvents(t *testing.T, what string, got, want []auditJSONOut) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, _ := json.Marshal(got[i])
		w, _ := json.Marshal(want[i])
		if string(g) != string(w) {
			t.Fatalf("%s: event %d is\n%s\nwant\n%s", what, i, g, w)
		}
	}
}

func TestAuditJSONLStreamsWhatJSONListsAcrossPages(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		c.ok(t, "", "account", "add", "111122223333", "--alias", "prod")
		base := time.Now().Add(-time.Hour).UTC()
		seedAudit(t, c.openStore(t), 2*auditPage+500, func(i int) time.Time { return base.Add(time.Duration(i) * time.Millisecond) })
		all := c.audit(t, "--limit", "100000")
		if len(all) != 2*auditPage+501 {
			t.Fatalf("audit --json lists %d events", len(all))
		}
		sameEvents(t, "-o jsonl", jsonl(t, c.ok(t, "", "audit", "-o", "jsonl")), all)
		sameEvents(t, "--format jsonl", jsonl(t, c.ok(t, "", "audit", "--format", "jsonl")), all)
		for _, f := range [][]string{
			{"--type", "login", "--user", "U1"},
			{"--account", "prod", "--since", base.Add(500 * time.Millisecond).Format(time.RFC3339Nano)},
			{"--account", "111122223333", "--type", "assertion", "--until", base.Add(2 * time.Second).Format(time.RFC3339Nano)},
		} {
			want := c.audit(t, append(f, "--limit", "100000")...)
			if len(want) == 0 {
				t.Fatalf("%v matches nothing: a poor test", f)
			}
			sameEvents(t, fmt.Sprint(f), jsonl(t, c.ok(t, "", append([]string{"audit", "-o", "jsonl"}, f...)...)), want)
		}
		// With --limit, jsonl prints what the list does: the newest, oldest first.
		sameEvents(t, "-o jsonl --limit 5", jsonl(t, c.ok(t, "", "audit", "-o", "jsonl", "--limit", "5")), c.audit(t, "--limit", "5"))
		// --format is -o by another name.
		if got, want := c.ok(t, "", "audit", "--format", "yaml", "--limit", "3"), c.ok(t, "", "audit", "-o", "yaml", "--limit", "3"); got != want {
			t.Errorf("--format yaml printed\n%s\nwant\n%s", got, want)
		}
		for _, bad := range [][]string{{"--format", "jsonl", "-o", "yaml"}, {"--json", "-o", "jsonl"}, {"--format", "xml"},
			{"--json", "--format", "jsonl"}, {"--json", "-o", "jsonl", "--limit", "5"}, {"--json", "-o", "yaml"}} {
			if r := c.run("", append([]string{"audit"}, bad...)...); r.code != exitInvalid || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("audit %v: exit %d, stdout %q, stderr %q; want one line and exit %d", bad, r.code, r.stdout, r.stderr, exitInvalid)
			}
		}
	})
}

func TestAuditPruneDeletesOnlyOldEventsOnceConfirmedAndRecordsIt(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		c.ok(t, "", "migrate")
		st := c.openStore(t)
		old := time.Now().Add(-100 * 24 * time.Hour).UTC()
		seedAudit(t, st, pruneBatch+700, func(i int) time.Time { return old.Add(time.Duration(i) * time.Second) })
		seedAudit(t, st, 30, func(i int) time.Time { return time.Now().Add(-89 * 24 * time.Hour) })
		total := auditCount(t, st)

		for _, bad := range []struct {
			args []string
			says string
		}{
			{[]string{"--older-than", "12h", "--yes"}, "under a day"},
			{[]string{"--older-than", "90m", "--yes"}, "90d"},
			{[]string{"--older-than", "0d", "--yes"}, "positive"},
			{[]string{"--older-than", "-5d", "--yes"}, "positive"},
			{[]string{"--older-than", "ninety days", "--yes"}, "positive"},
			{[]string{"--older-than", "99999999999d", "--yes"}, "positive"}, // would overflow a duration
			{[]string{"--older-than", "9999999999h", "--yes"}, "positive"},
			{[]string{"--older-than", "2026-01-01", "--yes"}, "positive"}, // an age, not a date
			{[]string{"--yes"}, "needs --older-than"},
			{[]string{"--older-than", "90d"}, "add --yes"}, // not a terminal: nothing without --yes
		} {
			r := c.run("", append([]string{"audit", "prune"}, bad.args...)...)
			if r.code != exitInvalid || !strings.Contains(r.stderr, bad.says) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("prune %v: exit %d, stderr %q; want one line that says %q", bad.args, r.code, r.stderr, bad.says)
			}
		}
		if out := c.ok(t, "", "audit", "prune", "--older-than", "90d", "--dry-run"); !strings.Contains(out, fmt.Sprintf("would delete %d audit events older than", pruneBatch+700)) {
			t.Errorf("dry run: %q", out)
		}
		if n := auditCount(t, st); n != total {
			t.Fatalf("the refusals and the dry run deleted %d events", total-n)
		}
		if out := c.ok(t, "", "audit", "prune", "--older-than", "90d", "--yes"); !strings.Contains(out, fmt.Sprintf("deleted %d audit events", pruneBatch+700)) {
			t.Errorf("prune: %q", out)
		}
		left := c.audit(t, "--limit", "100000")
		if len(left) != 31 || left[len(left)-1].Type != "audit.prune" {
			t.Fatalf("after the prune: %d events, the last %+v; want the 30 recent ones and the prune's", len(left), left[len(left)-1])
		}
		if d := left[len(left)-1].Details; d["deleted"] != fmt.Sprint(pruneBatch+700) || d["older_than"] != "90d" || d["before"] == "" {
			t.Errorf("the prune's event: %v", d)
		}
		if out := c.ok(t, "", "audit", "prune", "--older-than", "2160h", "--yes"); !strings.Contains(out, "nothing to delete") {
			t.Errorf("a second prune: %q", out)
		}
	})
}

// A prune of a large audit log on the embedded store, whose writers share one lock, while people
// sign in: every sign-in (which writes audit events) succeeds, and the prune deletes every old event.
func TestAuditPruneOfALargeLogDoesNotLockOutSignIns(t *testing.T) {
	c := newCLI(t, "sqlite")
	people := seedPeople(t, c)
	const old = 20000
	base := time.Now().Add(-400 * 24 * time.Hour)
	seedAudit(t, c.openStore(t), old, func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) })
	srv := c.serve(t, "--rate-burst", "100000", "--rate-per-second", "10000")
	defer srv.stop(t)

	done := make(chan struct{})
	var ok atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, len(people))
	for _, p := range people {
		wg.Add(1)
		go func() {
			defer wg.Done()
			browser, res, err := trySignIn(srv.url, p, goodPassword)
			if err == nil && res.StatusCode != http.StatusSeeOther {
				err = fmt.Errorf("status %d", res.StatusCode)
			}
			for err == nil {
				select {
				case <-done:
					return
				default:
				}
				if _, err = awsResponse(browser, srv, "dev"); err == nil {
					ok.Add(1)
				}
			}
			errs <- fmt.Errorf("%s: %v", p, err)
		}()
	}
	for ok.Load() < 3 {
		time.Sleep(10 * time.Millisecond)
	}
	start := ok.Load()
	out := c.ok(t, "", "audit", "prune", "--older-than", "365d", "--yes")
	during := ok.Load() - start
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if !strings.Contains(out, fmt.Sprintf("deleted %d audit events", old)) {
		t.Errorf("prune: %q", out)
	}
	t.Logf("%d sign-ins to AWS during the prune", during)
	if during == 0 {
		t.Errorf("no sign-in completed while the prune ran")
	}
	events := allAudit(t, c)
	if n := len(events); n < int(ok.Load()) {
		t.Errorf("%d audit events left, fewer than the %d sign-ins", n, ok.Load())
	}
}
