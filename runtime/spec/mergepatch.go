package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
)

// mergePatchBetween returns the JSON merge patch (RFC 7386) that turns the
// document from into the document to. Both must be JSON objects. A member
// whose value became null cannot be told apart from a removed member in a
// merge patch; it is treated as removed, which is what null means in
// config.json.
func mergePatchBetween(from, to []byte) ([]byte, error) {
	a, err := decodeObject(from)
	if err != nil {
		return nil, err
	}
	b, err := decodeObject(to)
	if err != nil {
		return nil, err
	}
	return json.Marshal(diffObjects(a, b))
}

func diffObjects(a, b map[string]any) map[string]any {
	patch := map[string]any{}
	for k, av := range a {
		bv, ok := b[k]
		if !ok {
			patch[k] = nil
			continue
		}
		am, aObj := av.(map[string]any)
		bm, bObj := bv.(map[string]any)
		switch {
		case aObj && bObj:
			if d := diffObjects(am, bm); len(d) > 0 {
				patch[k] = d
			}
		case !reflect.DeepEqual(av, bv):
			patch[k] = bv
		}
	}
	for k, bv := range b {
		if _, ok := a[k]; !ok {
			patch[k] = bv
		}
	}
	return patch
}

// applyMergePatch applies a JSON merge patch (RFC 7386) to the object doc.
func applyMergePatch(doc, patch []byte) ([]byte, error) {
	d, err := decodeObject(doc)
	if err != nil {
		return nil, err
	}
	p, err := decodeObject(patch)
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(mergeInto(d, p), "", "\t")
}

func mergeInto(d, p map[string]any) map[string]any {
	for k, pv := range p {
		if pv == nil {
			delete(d, k)
			continue
		}
		pm, pObj := pv.(map[string]any)
		dm, dObj := d[k].(map[string]any)
		switch {
		case pObj && dObj:
			d[k] = mergeInto(dm, pm)
		case pObj:
			d[k] = mergeInto(map[string]any{}, pm)
		default:
			d[k] = pv
		}
	}
	return d
}

// decodeObject decodes a JSON object keeping numbers exact.
func decodeObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if m == nil {
		return nil, fmt.Errorf("decode: not a JSON object")
	}
	return m, nil
}
