// Package spec loads an OCI config.json without losing data and writes it
// back atomically.
//
// A Document keeps the original bytes of the file. Callers change the typed
// view (Spec) and then call Marshal, which rewrites only the members whose
// typed value changed: unknown fields, fields newer than the vendored
// runtime-spec, number spellings and key order of untouched members all
// survive byte for byte.
package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrMalformed classifies config files that are not a single well-formed
// JSON object, contain duplicate keys, or do not decode into an OCI spec.
var ErrMalformed = errors.New("malformed config")

// Document is one loaded JSON file of type T (a config.json is a
// Document[specs.Spec], an exec process file a Document[specs.Process]).
// Value is the typed view that modifiers change; Marshal merges those
// changes into the original bytes. A Document is not safe for concurrent use.
type Document[T any] struct {
	// Value is the typed view of the document. Callers may change it freely.
	Value *T

	raw    []byte
	before []byte // typed marshal of the spec as loaded
}

// Parse decodes an OCI config into a Document. See ParseAs.
func Parse(data []byte) (*Document[specs.Spec], error) { return ParseAs[specs.Spec](data) }

// ParseAs decodes data into a Document. It refuses (with ErrMalformed) input
// that is not exactly one JSON object, that has an object with two keys
// equal under case folding (encoding/json, and so runc, would merge them
// silently), or that does not decode into T. Input longer than MaxFileSize or
// nested deeper than MaxDepth is refused before any decoding, with an error
// that also satisfies errors.Is(err, ErrTooLarge).
func ParseAs[T any](data []byte) (*Document[T], error) {
	if err := CheckJSONLimits(data); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := checkStructure(data); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	var s T
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	before, err := json.Marshal(&s)
	if err != nil {
		return nil, fmt.Errorf("encode spec: %w", err)
	}
	return &Document[T]{Value: &s, raw: data, before: before}, nil
}

// Original returns the bytes the document was parsed from. The caller must
// not modify them.
func (d *Document[T]) Original() []byte { return d.raw }

// Changed reports whether the typed view differs from what was loaded.
func (d *Document[T]) Changed() (bool, error) {
	after, err := json.Marshal(d.Value)
	if err != nil {
		return false, fmt.Errorf("encode spec: %w", err)
	}
	return !bytes.Equal(after, d.before), nil
}

// Marshal returns the document with the changes made to Spec merged into
// the original bytes. If nothing changed it returns the original bytes.
// Members are matched to spec fields the way encoding/json matches them
// (case-insensitively), so the output decodes in runc exactly as Spec.
func (d *Document[T]) Marshal() ([]byte, error) {
	after, err := json.Marshal(d.Value)
	if err != nil {
		return nil, fmt.Errorf("encode spec: %w", err)
	}
	if bytes.Equal(after, d.before) {
		return d.raw, nil
	}
	out, err := merge(d.raw, d.before, after)
	if err != nil {
		return nil, fmt.Errorf("merge config: %w", err)
	}
	return out, nil
}

// member is one key/value pair of a JSON object, in document order.
type member struct {
	key   string
	value json.RawMessage
	text  []byte // the member as written: key, separator and value; nil if built
}

// merge rewrites raw so that it decodes like after, keeping every member
// whose typed value did not change between before and after.
func merge(raw, before, after []byte) ([]byte, error) {
	rawMembers, rawIsObj, err := splitObject(raw)
	if err != nil {
		return nil, err
	}
	afterMembers, afterIsObj, err := splitObject(after)
	if err != nil {
		return nil, err
	}
	if !rawIsObj || !afterIsObj {
		return mergeArray(raw, before, after)
	}
	beforeMembers, _, err := splitObject(before)
	if err != nil {
		return nil, err
	}
	beforeByKey, afterByKey := byKey(beforeMembers), byKey(afterMembers)
	var out []member
	seen := make(map[string]bool)
	for _, m := range rawMembers {
		tk, known := typedKey(m.key, beforeByKey, afterByKey)
		if !known {
			out = append(out, m) // unknown to the typed view: keep as is
			continue
		}
		seen[tk] = true
		b, inBefore := beforeByKey[tk]
		a, inAfter := afterByKey[tk]
		switch {
		case !inAfter:
			if inBefore {
				continue // cleared by a modifier: drop it
			}
			out = append(out, m) // e.g. an explicit null the typed view omits
		case inBefore && bytes.Equal(a, b):
			out = append(out, m)
		case inBefore:
			v, err := merge(m.value, b, a)
			if err != nil {
				return nil, err
			}
			out = append(out, member{key: m.key, value: v})

		default:
			out = append(out, member{key: m.key, value: a})
		}
	}
	for _, m := range afterMembers {
		if !seen[m.key] {
			out = append(out, member{key: m.key, value: m.value})
		}
	}
	return encodeObject(out), nil
}

// byKey maps each member's key to its value.
func byKey(ms []member) map[string]json.RawMessage {
	m := make(map[string]json.RawMessage, len(ms))
	for _, mb := range ms {
		m[mb.key] = mb.value
	}
	return m
}

// typedKey finds the key of the typed views (before, then after) that the
// raw key k decodes into, as encoding/json does: exact match first, then
// case-insensitive.
func typedKey(k string, before, after map[string]json.RawMessage) (string, bool) {
	if _, ok := before[k]; ok {
		return k, true
	}
	if _, ok := after[k]; ok {
		return k, true
	}
	for _, typed := range []map[string]json.RawMessage{before, after} {
		for tk := range typed {
			if strings.EqualFold(tk, k) {
				return tk, true
			}
		}
	}
	return "", false
}

// mergeArray merges arrays element by element when their lengths agree, so
// that unknown fields inside unchanged or changed objects survive; otherwise
// the typed value replaces raw, reusing the raw bytes of any element whose
// typed value is unchanged.
func mergeArray(raw, before, after []byte) ([]byte, error) {
	rawElems, rawIsArr, err := splitArray(raw)
	if err != nil {
		return nil, err
	}
	afterElems, afterIsArr, err := splitArray(after)
	if err != nil {
		return nil, err
	}
	beforeElems, beforeIsArr, err := splitArray(before)
	if err != nil {
		return nil, err
	}
	if !rawIsArr || !afterIsArr || !beforeIsArr || len(rawElems) != len(beforeElems) {
		return after, nil
	}
	out := make([]json.RawMessage, 0, len(afterElems))
	if len(afterElems) == len(beforeElems) {
		for i := range afterElems {
			if bytes.Equal(afterElems[i], beforeElems[i]) {
				out = append(out, rawElems[i])
				continue
			}
			v, err := merge(rawElems[i], beforeElems[i], afterElems[i])
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return encodeArray(out), nil
	}
	used := make([]bool, len(beforeElems))
	for _, a := range afterElems {
		v := a
		for j, b := range beforeElems {
			if !used[j] && bytes.Equal(a, b) {
				used[j], v = true, rawElems[j]
				break
			}
		}
		out = append(out, v)
	}
	return encodeArray(out), nil
}

func encodeObject(ms []member) []byte {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			buf.WriteByte(',')
		}
		if m.text != nil {
			buf.Write(m.text)
			continue
		}
		k, _ := json.Marshal(m.key)
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(bytes.TrimSpace(m.value))
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

func encodeArray(es []json.RawMessage) []byte {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, e := range es {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(bytes.TrimSpace(e))
	}
	buf.WriteByte(']')
	return buf.Bytes()
}

// checkStructure verifies data is exactly one JSON object and that no object
// anywhere in it has two keys equal under case folding. Its cost is linear
// in len(data): the path of the current value is a stack of segments that is
// joined only for an error message.
func checkStructure(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("parse json: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("config is not a JSON object")
	}
	w := &walker{dec: dec, path: []string{"$"}}
	if err := w.object(); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// walker walks a JSON value token by token, keeping the path to the current
// value as segments.
type walker struct {
	dec  *json.Decoder
	path []string
}

func (w *walker) where() string { return strings.Join(w.path, "") }

func (w *walker) object() error {
	keys := make(map[string]string)
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return fmt.Errorf("parse json at %s: %w", w.where(), err)
		}
		key, _ := tok.(string)
		// encoding/json (and so runc) matches keys with Unicode simple
		// folding, where "ſ" is "s" and "K" (Kelvin) is "k";
		// ToLower(ToUpper()) folds both, which ToLower alone does not.
		fold := strings.ToLower(strings.ToUpper(key))
		if prev, dup := keys[fold]; dup {
			if prev == key {
				return fmt.Errorf("duplicate key %q at %s", key, w.where())
			}
			return fmt.Errorf("keys %q and %q at %s differ only in case", prev, key, w.where())
		}
		keys[fold] = key
		w.path = append(w.path, "."+key)
		err = w.value()
		w.path = w.path[:len(w.path)-1]
		if err != nil {
			return err
		}
	}
	if _, err := w.dec.Token(); err != nil { // closing '}'
		return fmt.Errorf("parse json at %s: %w", w.where(), err)
	}
	return nil
}

func (w *walker) value() error {
	tok, err := w.dec.Token()
	if err != nil {
		return fmt.Errorf("parse json at %s: %w", w.where(), err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		return w.object()
	case '[':
		for i := 0; w.dec.More(); i++ {
			w.path = append(w.path, "["+strconv.Itoa(i)+"]")
			err := w.value()
			w.path = w.path[:len(w.path)-1]
			if err != nil {
				return err
			}
		}
		if _, err := w.dec.Token(); err != nil {
			return fmt.Errorf("parse json at %s: %w", w.where(), err)
		}
	}
	return nil
}
