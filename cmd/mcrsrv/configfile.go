package main

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// decodeFile reads the TOML file at path into c key by key, so that one
// run reports every problem of the file at once (`mcrsrv config check`,
// and a server that refuses to start): unknown keys, tables written as
// values, values of the wrong type or form. A syntax error ends the
// reading: the parser cannot go past it.
func decodeFile(path string, c *Config) error {
	var root map[string]toml.Primitive
	md, err := toml.DecodeFile(path, &root)
	if err != nil {
		return err
	}
	keys := map[string]configKey{}
	tables := map[string]bool{}
	for _, k := range configKeys(reflect.ValueOf(c).Elem()) {
		keys[k.Path] = k
		for t := k.Table; t != ""; t = parentTable(t) {
			tables[t] = true
		}
	}
	prims := map[string]toml.Primitive{}
	collectPrimitives(&md, "", root, tables, prims)

	var errs []error
	done := map[string]bool{}       // keys whose descendants are not looked at
	for _, key := range md.Keys() { // in file order
		p := key.String()
		if coveredBy(p, done) {
			continue
		}
		switch {
		case keys[p].Value.IsValid():
			done[p] = true
			// Into a fresh value: a value that fails leaves the default.
			v := reflect.New(keys[p].Value.Type())
			if err := md.PrimitiveDecode(prims[p], v.Interface()); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", p, err))
				continue
			}
			if v.Elem().Kind() == reflect.Slice && v.Elem().Len() == 0 {
				v.Elem().SetZero() // [] is the default, no list
			}
			keys[p].Value.Set(v.Elem())
		case tables[p]:
			if typ := md.Type(key...); typ != "Hash" {
				done[p] = true
				errs = append(errs, fmt.Errorf("%s: want a table ([%s]), found %s", p, p, strings.ToLower(typ)))
			}
		default:
			done[p] = true
			errs = append(errs, fmt.Errorf("%s: unknown key%s", p, suggestKey(p, keys)))
		}
	}
	return errors.Join(errs...)
}

// collectPrimitives records the undecoded value of every key of m, and
// descends into the tables that Config has (a value where a table belongs
// is reported by decodeFile).
func collectPrimitives(md *toml.MetaData, prefix string, m map[string]toml.Primitive, tables map[string]bool, out map[string]toml.Primitive) {
	for name, p := range m {
		full := joinPath(prefix, name)
		out[full] = p
		var sub map[string]toml.Primitive
		if tables[full] && md.PrimitiveDecode(p, &sub) == nil {
			collectPrimitives(md, full, sub, tables, out)
		}
	}
}

func parentTable(t string) string {
	i := strings.LastIndexByte(t, '.')
	if i < 0 {
		return ""
	}
	return t[:i]
}

// coveredBy says whether an ancestor of path p is in done.
func coveredBy(p string, done map[string]bool) bool {
	for t := parentTable(p); t != ""; t = parentTable(t) {
		if done[t] {
			return true
		}
	}
	return false
}

// suggestKey names the known key an unknown one was probably meant to be:
// the same name in another table, or a path a typo or two away.
func suggestKey(p string, keys map[string]configKey) string {
	name := p[strings.LastIndexByte(p, '.')+1:]
	var best []string
	bestDist := 3
	for known, k := range keys {
		d := editDistance(p, known)
		if k.Name == name {
			d = 0
		}
		switch {
		case d < bestDist:
			best, bestDist = []string{known}, d
		case d == bestDist:
			best = append(best, known)
		}
	}
	if len(best) == 0 {
		return ""
	}
	sort.Strings(best)
	return " (did you mean " + strings.Join(best, " or ") + "?)"
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
