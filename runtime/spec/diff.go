package spec

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
)

// Diff appends to out one line per difference between the decoded JSON
// values a and b (as encoding/json decodes into any), below path ("" for
// the root): "+ path: value" for a member only b has, "- path: value" for
// one only a has, "~ path: a -> b" for a changed value. Members are
// visited in key order; lists of equal length element by element, lists of
// different length as the values removed and added. Values are shown as
// compact JSON of at most 160 bytes.
func Diff(path string, a, b any, out *[]string) {
	if reflect.DeepEqual(a, b) {
		return
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			av, ain := am[k]
			bv, bin := bm[k]
			p := path + "." + k
			switch {
			case !ain:
				*out = append(*out, fmt.Sprintf("+ %s: %s", p, short(bv)))
			case !bin:
				*out = append(*out, fmt.Sprintf("- %s: %s", p, short(av)))
			default:
				Diff(p, av, bv, out)
			}
		}
		return
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok {
		if len(al) == len(bl) {
			for i := range al {
				Diff(fmt.Sprintf("%s[%d]", path, i), al[i], bl[i], out)
			}
			return
		}
		// Lists of different length: show what was removed and added.
		for _, v := range al {
			if !containsValue(bl, v) {
				*out = append(*out, fmt.Sprintf("- %s[]: %s", path, short(v)))
			}
		}
		for _, v := range bl {
			if !containsValue(al, v) {
				*out = append(*out, fmt.Sprintf("+ %s[]: %s", path, short(v)))
			}
		}
		return
	}
	*out = append(*out, fmt.Sprintf("~ %s: %s -> %s", path, short(a), short(b)))
}

func containsValue(list []any, v any) bool {
	for _, x := range list {
		if reflect.DeepEqual(x, v) {
			return true
		}
	}
	return false
}

func short(v any) string {
	data, _ := json.Marshal(v)
	if len(data) > 160 {
		return string(data[:157]) + "..."
	}
	return string(data)
}
