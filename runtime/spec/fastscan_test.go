package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// refSplit splits data as encoding/json's Decoder sees it: the members of
// an object (keys decoded, values compacted) or the elements of an array.
func refSplit(t *testing.T, data []byte) (keys []string, values []string, isObj, isArr bool) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		t.Fatal(err)
	}
	switch tok {
	case json.Delim('{'):
		for dec.More() {
			k, _ := dec.Token()
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k.(string))
			values = append(values, compact(t, v))
		}
		return keys, values, true, false
	case json.Delim('['):
		for dec.More() {
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			values = append(values, compact(t, v))
		}
		return nil, values, false, true
	}
	return nil, nil, false, false
}

func compact(t *testing.T, v []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		t.Fatalf("compact %q: %v", v, err)
	}
	return b.String()
}

// The merge's scanners split every object and array as encoding/json does.
func TestSplitMatchesEncodingJSON(t *testing.T) {
	inputs := []string{
		`{}`, `[]`, ` { } `, `[ 1 , 2 ]`, `"s"`, `12.50`, `null`, `true`,
		`{"a":1,"b":"x}y]","c":{"d":[1,{"e":"\"}"}]},"\u00e9t\u00e9":null,"k\"q":-0.5e+3}`,
		"{\n\t\"a\" :\r\n [ \"[\" , \"\\\\\" ] ,\"b\":{}\n}",
		`[{"a":"\\"},[[]],"]",-1,false]`,
		`{"ſ":1,"K":2,"日本":"語"}`,
	}
	if data, err := os.ReadFile(filepath.Join("testdata", "future.json")); err == nil {
		inputs = append(inputs, string(data))
	}
	for _, in := range inputs {
		data := []byte(in)
		keys, values, isObj, isArr := refSplit(t, data)
		ms, ok, err := splitObject(data)
		if err != nil || ok != isObj {
			t.Fatalf("splitObject(%s) = ok %v, %v; want ok %v", in, ok, err, isObj)
		}
		for i, m := range ms {
			if m.key != keys[i] || compact(t, m.value) != values[i] {
				t.Errorf("splitObject(%s) member %d = %q: %s, want %q: %s", in, i, m.key, m.value, keys[i], values[i])
			}
			if !bytes.HasSuffix(m.text, m.value) || !bytes.HasPrefix(m.text, []byte{'"'}) {
				t.Errorf("splitObject(%s) member %d text %q", in, i, m.text)
			}
		}
		if isObj && len(ms) != len(keys) {
			t.Errorf("splitObject(%s): %d members, want %d", in, len(ms), len(keys))
		}
		es, ok, err := splitArray(data)
		if err != nil || ok != isArr {
			t.Fatalf("splitArray(%s) = ok %v, %v; want ok %v", in, ok, err, isArr)
		}
		for i, e := range es {
			if compact(t, e) != values[i] {
				t.Errorf("splitArray(%s) element %d = %s, want %s", in, i, e, values[i])
			}
		}
	}
}

// Broken structure is an error, never a guess.
func TestSplitRefusesMalformed(t *testing.T) {
	for _, in := range []string{``, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1 "b":2}`, `{"a":[1}`, `{"a":"x`, `[1,`, `{a:1}`, `{"a":1]`} {
		if _, _, err := splitObject([]byte(in)); !errors.Is(err, errScan) {
			t.Errorf("splitObject(%q): %v, want a scan error", in, err)
		}
	}
	for _, in := range []string{`[`, `[1,]`, `[1 2]`, `["a]`, `[{]`, `[1}`} {
		if _, _, err := splitArray([]byte(in)); !errors.Is(err, errScan) {
			t.Errorf("splitArray(%q): %v, want a scan error", in, err)
		}
	}
}
