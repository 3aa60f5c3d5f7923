package runtime

import (
	"encoding/json"
	"testing"
)

func TestFeaturesIDMap(t *testing.T) {
	for in, want := range map[string]bool{
		`{"linux":{"mountExtensions":{"idmap":{"enabled":true}}}}`:  true,
		`{"linux":{"mountExtensions":{"idmap":{"enabled":false}}}}`: false,
		`{"linux":{"mountExtensions":{}}}`:                          false,
		`{"mountOptions":["idmap"]}`:                                false,
		`{}`:                                                        false,
	} {
		var f delegateFeatures
		if err := json.Unmarshal([]byte(in), &f); err != nil {
			t.Fatal(err)
		}
		if got := f.idmap(); got != want {
			t.Errorf("%s: idmap() = %v, want %v", in, got, want)
		}
	}
}
