package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// ObjectMember locates one member of a JSON object in the bytes the object
// was scanned from.
type ObjectMember struct {
	Key      string
	KeyStart int // offset of the key's opening quote
	ValStart int // the value's bytes are data[ValStart:ValEnd]
	ValEnd   int
}

// Object locates a JSON object and its members, in document order, in the
// bytes it was scanned from.
type Object struct {
	Open, Close int // offsets of '{' and '}'
	Members     []ObjectMember
}

// ScanObject locates the JSON object that starts at data[off] and its
// members. It is the one scanner of object members by offset: the lossless
// config merge and the daemon.json editor of runtime/engines both use it.
// It does not look past the object's closing brace.
func ScanObject(data []byte, off int) (*Object, error) {
	if off < 0 || off >= len(data) || data[off] != '{' {
		return nil, fmt.Errorf("not a JSON object at offset %d", off)
	}
	dec := json.NewDecoder(bytes.NewReader(data[off:]))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	obj := &Object{Open: off}
	prev := off + 1
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("object key at offset %d is not a string", prev)
		}
		m := ObjectMember{Key: key, KeyStart: skipSep(data, prev)}
		m.ValStart = skipSep(data, off+int(dec.InputOffset()))
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		m.ValEnd = off + int(dec.InputOffset())
		obj.Members = append(obj.Members, m)
		prev = m.ValEnd
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	obj.Close = off + int(dec.InputOffset()) - 1
	if data[obj.Close] != '}' {
		return nil, fmt.Errorf("object at offset %d: closing brace not found", off)
	}
	return obj, nil
}

// skipSep skips JSON whitespace, commas and colons from i.
func skipSep(data []byte, i int) int {
	for i < len(data) && strings.IndexByte(" \t\r\n,:", data[i]) >= 0 {
		i++
	}
	return i
}
