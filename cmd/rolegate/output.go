package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"rolegate/idp"
	"rolegate/store"
)

// listFlags are the output flags every list takes: -o table|json|yaml|name, --no-headers, and
// --json, kept as the older spelling of -o json.
type listFlags struct {
	format    string
	noHeaders bool
	asJSON    bool
}

func (f *listFlags) register(c *cobra.Command) {
	c.Flags().StringVarP(&f.format, "output", "o", "table", "output format: table, json, yaml or name (the first column, one a line)")
	c.Flags().BoolVar(&f.noHeaders, "no-headers", false, "table: leave out the header row and the notes after the table")
	c.Flags().BoolVar(&f.asJSON, "json", false, "print JSON (the same as -o json)")
	c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml", "name"}, cobra.ShellCompDirectiveNoFileComp))
}

// table is a list in its human form: a header row, then rows whose first cell names the row.
// Cells never hold a space, so `awk` and `cut -w` split every row into the same columns.
type table struct {
	head []string
	rows [][]string
	// foot, when set, prints notes for people after the table; --no-headers leaves them out.
	foot func(w io.Writer) error
}

func newTable(head ...string) *table { return &table{head: head} }

// add appends a row; each value is made one cell (see tableCell).
func (t *table) add(values ...string) {
	row := make([]string, len(values))
	for i, v := range values {
		row[i] = tableCell(v)
	}
	t.rows = append(t.rows, row)
}

// addCells appends a row of cells the caller made safe already (escaped, without spaces).
func (t *table) addCells(cells ...string) { t.rows = append(t.rows, cells) }

// tableCell is "-" for empty text, else esc(s) with any space spelt \x20 inside the quotes, so
// strconv.Unquote gives the value back and no cell splits in two.
func tableCell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.ReplaceAll(esc(s), " ", `\x20`)
}

// print writes v (the JSON form, whose keys stay stable) or t, as the flags ask.
// chosen is the format -o and --json ask for together; it refuses --json beside another -o.
func (f *listFlags) chosen() (string, error) {
	if !f.asJSON {
		return f.format, nil
	}
	if f.format != "table" && f.format != "json" {
		return "", store.Errorf(store.Invalid, "--json and -o %s exclude each other", f.format)
	}
	return "json", nil
}

func (f *listFlags) print(a *app, v any, t *table) error {
	format, err := f.chosen()
	if err != nil {
		return err
	}
	switch format {
	case "json":
		return a.printJSON(v)
	case "yaml":
		return a.printYAML(v)
	case "name":
		for _, r := range t.rows {
			if _, err := fmt.Fprintln(a.stdout, r[0]); err != nil {
				return err
			}
		}
		return nil
	case "table":
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		if !f.noHeaders {
			fmt.Fprintln(tw, strings.Join(t.head, "\t"))
		}
		for _, r := range t.rows {
			fmt.Fprintln(tw, strings.Join(r, "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if t.foot != nil && !f.noHeaders {
			return t.foot(a.stdout)
		}
		return nil
	}
	return store.Errorf(store.Invalid, "unknown output format %q: use table, json, yaml or name", f.format)
}

// printYAML prints v as YAML through its JSON form, so the keys, omissions and time formats are
// the same as -o json's.
func (a *app) printYAML(v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	_, err = a.stdout.Write(b)
	return err
}

// durWord is d as an admin gives it ("4h", never "4h0m0s"); "" for 0.
func durWord(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return idp.ShortDuration(d)
}

// timeText is a time in RFC 3339 UTC, "" for none (the table shows "-").
func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
