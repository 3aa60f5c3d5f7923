package spec

import (
	"encoding/json"
	"errors"
	"fmt"
)

// The merge of Marshal splits the same objects and arrays again at every
// level it descends. encoding/json's Decoder copies every value it steps
// over (and grows its buffer to hold the largest), which made the merge
// about a third of runcage's create work. The scanners below only locate
// values: they read each byte once and allocate nothing but the result.
// They check the structure they walk (brackets, quotes, separators) and
// return an error on anything else, but they are no validator: their input
// is a document ParseAs accepted or encoding/json's own output.

// errScan is the cause of every error of the scanners below.
var errScan = errors.New("malformed JSON")

// isSpace reports whether c is JSON whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipSpace returns the offset of the first non-whitespace byte from i.
func skipSpace(data []byte, i int) int {
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	return i
}

// skipString returns the offset just past the string whose opening quote is
// at data[i].
func skipString(data []byte, i int) (int, error) {
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1, nil
		}
	}
	return 0, fmt.Errorf("%w: unterminated string", errScan)
}

// skipValue returns the offset just past the JSON value that starts at
// data[i] (no leading whitespace).
func skipValue(data []byte, i int) (int, error) {
	if i >= len(data) {
		return 0, fmt.Errorf("%w: value expected at offset %d", errScan, i)
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		// Nesting is bounded by CheckJSONLimits for input, and by
		// encoding/json for its output; a stack of closers checks it.
		var closers []byte
		for ; i < len(data); i++ {
			switch c := data[i]; c {
			case '"':
				end, err := skipString(data, i)
				if err != nil {
					return 0, err
				}
				i = end - 1
			case '{':
				closers = append(closers, '}')
			case '[':
				closers = append(closers, ']')
			case '}', ']':
				if len(closers) == 0 || closers[len(closers)-1] != c {
					return 0, fmt.Errorf("%w: unexpected %q at offset %d", errScan, c, i)
				}
				closers = closers[:len(closers)-1]
				if len(closers) == 0 {
					return i + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("%w: unterminated object or array", errScan)
	case ',', ':', '}', ']':
		return 0, fmt.Errorf("%w: value expected at offset %d", errScan, i)
	}
	// A number, true, false or null: it ends at a separator.
	start := i
	for i < len(data) && !isSpace(data[i]) && data[i] != ',' && data[i] != '}' && data[i] != ']' && data[i] != ':' {
		i++
	}
	if i == start {
		return 0, fmt.Errorf("%w: value expected at offset %d", errScan, start)
	}
	return i, nil
}

// scanComposite calls each for every element of the object or array that
// starts, after any whitespace, at data[0] (open is '{' or '['): for an
// object with the offset of the key's opening quote, and for both with the
// value's start and end. It returns ok=false if data holds another kind of
// value.
func scanComposite(data []byte, open byte, each func(keyStart, valStart, valEnd int) error) (ok bool, err error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != open {
		if _, err := skipValue(data, i); err != nil {
			return false, err
		}
		return false, nil
	}
	closer := byte('}')
	if open == '[' {
		closer = ']'
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == closer {
		return true, nil
	}
	for {
		keyStart := -1
		if open == '{' {
			if i >= len(data) || data[i] != '"' {
				return false, fmt.Errorf("%w: object key expected at offset %d", errScan, i)
			}
			keyStart = i
			end, err := skipString(data, i)
			if err != nil {
				return false, err
			}
			i = skipSpace(data, end)
			if i >= len(data) || data[i] != ':' {
				return false, fmt.Errorf("%w: ':' expected at offset %d", errScan, i)
			}
			i = skipSpace(data, i+1)
		}
		end, err := skipValue(data, i)
		if err != nil {
			return false, err
		}
		if err := each(keyStart, i, end); err != nil {
			return false, err
		}
		i = skipSpace(data, end)
		if i >= len(data) {
			return false, fmt.Errorf("%w: unterminated object or array", errScan)
		}
		if data[i] == closer {
			return true, nil
		}
		if data[i] != ',' {
			return false, fmt.Errorf("%w: ',' expected at offset %d", errScan, i)
		}
		i = skipSpace(data, i+1)
	}
}

// splitObject returns the members of a JSON object in order, or ok=false if
// data is not an object.
func splitObject(data []byte) (members []member, ok bool, err error) {
	ok, err = scanComposite(data, '{', func(keyStart, valStart, valEnd int) error {
		key, err := decodeKey(data[keyStart:valStart])
		if err != nil {
			return err
		}
		members = append(members, member{
			key:   key,
			value: json.RawMessage(data[valStart:valEnd:valEnd]),
			text:  data[keyStart:valEnd:valEnd],
		})
		return nil
	})
	if !ok || err != nil {
		return nil, false, err
	}
	return members, true, nil
}

// decodeKey decodes the key of a member from its text up to the value: the
// quoted key, whitespace, ':' and whitespace.
func decodeKey(text []byte) (string, error) {
	end, err := skipString(text, 0)
	if err != nil {
		return "", err
	}
	q := text[:end]
	for _, c := range q[1 : end-1] {
		if c == '\\' || c < 0x20 || c >= 0x80 {
			// Escapes and non-ASCII: as encoding/json reads them.
			var k string
			if err := json.Unmarshal(q, &k); err != nil {
				return "", fmt.Errorf("%w: object key %s: %w", errScan, q, err)
			}
			return k, nil
		}
	}
	return string(q[1 : end-1]), nil
}

// splitArray returns the elements of a JSON array, or ok=false if data is
// not an array.
func splitArray(data []byte) (elems []json.RawMessage, ok bool, err error) {
	ok, err = scanComposite(data, '[', func(_, valStart, valEnd int) error {
		elems = append(elems, json.RawMessage(data[valStart:valEnd:valEnd]))
		return nil
	})
	if !ok || err != nil {
		return nil, false, err
	}
	return elems, true, nil
}
