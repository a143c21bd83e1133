package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"rolegate/internal/opensslsign"
	"rolegate/store"
)

// buildJSON is what `rolegate version --json` prints: read from the binary's own build
// information, so a plain `go build` gives it without -ldflags.
type buildJSON struct {
	Version    string `json:"version"`
	Commit     string `json:"commit,omitempty"`
	CommitTime string `json:"commit_time,omitempty"`
	Modified   bool   `json:"modified"` // built from a work tree with uncommitted changes
	Go         string `json:"go"`
	Signer     string `json:"signer"` // what makes the RSA signatures: "go", or "openssl (OpenSSL 3.x.y)" with -tags openssl
}

func buildInfo() buildJSON {
	b := buildJSON{Version: "(devel)", Go: runtime.Version(), Signer: opensslsign.Name()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if v := info.Main.Version; v != "" {
		b.Version = v
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.time":
			b.CommitTime = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// versionText is the one line --version and version print.
func versionText() string {
	b := buildInfo()
	parts := []string{}
	if b.Commit != "" {
		c := b.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		if b.Modified {
			c += "+modified"
		}
		parts = append(parts, "commit "+c)
	}
	if b.CommitTime != "" {
		parts = append(parts, "committed "+b.CommitTime)
	}
	parts = append(parts, b.Go, "signer: "+b.Signer)
	return b.Version + " (" + strings.Join(parts, ", ") + ")"
}

func versionCmd(a *app) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "version",
		Short: "Print Rolegate's version, commit and Go version",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON {
				return a.printJSON(buildInfo())
			}
			_, err := fmt.Fprintln(a.stdout, "rolegate "+versionText())
			return err
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON: version, commit, commit_time, modified, go")
	return c
}

// flagError turns a flag parse error into an "invalid" one, naming the flag meant when a known
// flag is within two edits of the unknown one.
func flagError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "unknown flag: --"); ok {
		var near []string
		seen := map[string]bool{}
		visit := func(n string) {
			if !seen[n] && (editDistance(n, name) <= 2 || strings.HasPrefix(n, name)) {
				seen[n] = true
				near = append(near, "--"+n)
			}
		}
		cmd.Flags().VisitAll(func(f *pflag.Flag) { visit(f.Name) })
		cmd.InheritedFlags().VisitAll(func(f *pflag.Flag) { visit(f.Name) })
		if len(near) > 0 {
			msg += "; did you mean " + strings.Join(near, " or ") + "?"
		}
	}
	return store.Errorf(store.Invalid, "%s; see %s --help", msg, cmd.CommandPath())
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// suggest is "; did you mean X?" for an unknown subcommand of cmd, "" when none is near.
func suggest(cmd *cobra.Command, typed string) string {
	if s := cmd.SuggestionsFor(typed); len(s) > 0 {
		return "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return ""
}
