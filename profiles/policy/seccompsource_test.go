package policy

import (
	"encoding/json"
	"testing"

	"github.com/runcage/runcage/profiles"
)

// The seccomp modifier's source for the built-in allowlist builds exactly
// what Seccomp returns, and its key tells apart every profile whose filter
// differs, so a cached result is never another profile's.
func TestSeccompSourceKey(t *testing.T) {
	var p Policy
	keys := map[string]string{}
	for name, prof := range map[string]*profiles.Profile{
		"plain":      {Name: "plain"},
		"families":   {Name: "families", SocketFamilies: []string{"AF_PACKET"}},
		"families2":  {Name: "families2", SocketFamilies: []string{"AF_PACKET", "AF_NETLINK"}},
		"setid":      {Name: "setid", SetIDFiles: true},
		"both":       {Name: "both", SocketFamilies: []string{"AF_PACKET"}, SetIDFiles: true},
		"explicit":   {Name: "explicit", Seccomp: profiles.SeccompRuntimeDefault},
		"other name": {Name: "other name", SetIDFiles: true},
	} {
		src, err := p.seccompSource(prof)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if src.Filter != nil || src.Build == nil || src.Key == "" {
			t.Fatalf("%s: want a keyed source, got %+v", name, src)
		}
		built, err := src.Build()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, err := p.Seccomp(prof)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, _ := json.Marshal(built)
		w, _ := json.Marshal(want)
		if string(b) != string(w) {
			t.Errorf("%s: the source builds another filter than Seccomp", name)
		}
		if prev, ok := keys[string(w)]; ok && prev != src.Key {
			t.Errorf("%s: one filter, two keys: %q and %q", name, prev, src.Key)
		}
		for f, k := range keys {
			if k == src.Key && f != string(w) {
				t.Errorf("%s: key %q names two filters", name, k)
			}
		}
		keys[string(w)] = src.Key
	}
}
