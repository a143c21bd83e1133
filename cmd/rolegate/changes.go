package main

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
	"unicode"
)

// changes lists the fields that differ between before and after (two values of one struct type) as
// "field": "old->new", with nested structs' fields as "outer.field". It reads every exported field,
// so a field added to the struct later is audited without another line here.
func changes(before, after any) map[string]string {
	out := map[string]string{}
	diffFields("", reflect.ValueOf(before), reflect.ValueOf(after), out)
	return out
}

func diffFields(prefix string, b, a reflect.Value, out map[string]string) {
	t := b.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := prefix + snake(f.Name)
		bv, av := b.Field(i), a.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Time{}) {
			diffFields(name+".", bv, av, out)
			continue
		}
		if bs, as := fieldText(bv), fieldText(av); bs != as {
			out[name] = bs + "->" + as
		}
	}
}

// fieldText is a field's value as an admin writes it: durations as 4h, times in RFC 3339, lists
// comma-separated, and "none" for an empty value.
func fieldText(v reflect.Value) string {
	var s string
	switch x := v.Interface().(type) {
	case time.Duration:
		s = durWord(x)
	case time.Time:
		s = timeText(x)
	case []string:
		c := append([]string{}, x...)
		sort.Strings(c)
		s = strings.Join(c, ",")
	default:
		s = fmt.Sprint(x)
	}
	if s == "" {
		return "none"
	}
	return s
}

// snake is SessionDuration as session_duration, CLISessionMax as cli_session_max.
func snake(s string) string {
	r := []rune(s)
	var b strings.Builder
	for i, c := range r {
		if unicode.IsUpper(c) && i > 0 && (unicode.IsLower(r[i-1]) || (i+1 < len(r) && unicode.IsLower(r[i+1]))) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}
