//go:build integration

package adversarial

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/runcage/runcage/integration"
)

// inputMaxRSSKB is the most memory runcage may use to refuse hostile input.
const inputMaxRSSKB = 64 << 10

// inputDeepConfig returns a valid config.json with a member nested depth
// levels deep (in an unknown member, which runcage must keep).
func inputDeepConfig(t *testing.T, depth int) []byte {
	t.Helper()
	raw, err := integration.MarshalSpec(Spec("true"))
	if err != nil {
		t.Fatal(err)
	}
	deep := `"x-deep":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `,`
	return bytes.Replace(raw, []byte("{"), []byte("{"+deep), 1)
}

// inputHugeConfig returns a valid config.json of more than size bytes:
// annotations of 64 KiB each carry the padding (an environment this large
// could not be passed to execve).
func inputHugeConfig(t *testing.T, size int) []byte {
	t.Helper()
	s := Spec("true")
	s.Annotations = map[string]string{}
	for i := 0; i*(64<<10) < size; i++ {
		s.Annotations[fmt.Sprintf("example.com/pad-%d", i)] = strings.Repeat("x", 64<<10)
	}
	raw, err := integration.MarshalSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// inputMeasured returns rt run under `busybox time -v`, and a function
// that reads runcage's peak resident memory in KB from its result. wait4's
// ru_maxrss of a process forked from the test binary would report the test
// binary's own peak (a forked child inherits its parent's high-water mark,
// and it survives exec); busybox forks runcage from a fresh, small process.
// busybox's time takes ru_maxrss for a count of pages (as Linux 2.4 had it)
// and multiplies it by the page size in KB; the value is turned back into
// the KB the kernel reported.
func inputMeasured(rt integration.Runtime) (integration.Runtime, func(integration.Result) int) {
	rt.Pre = append([]string{"time", "-v", rt.Path}, rt.Pre...)
	rt.Path = integration.HostBusybox
	return rt, func(res integration.Result) int {
		const field = "Maximum resident set size (kbytes): "
		for _, l := range strings.Split(res.Stderr, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), field); ok {
				n, err := strconv.Atoi(v)
				if err == nil {
					return n * 1024 / os.Getpagesize()
				}
			}
		}
		return -1
	}
}

// TestInputLimits: class 10, resource exhaustion by a hostile config.json.
// runcage must refuse at once, and its peak memory stays below 64 MB.
func TestInputLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  func(t *testing.T) []byte
		want string
	}{
		// runc refuses it too (encoding/json stops at 10,000 levels): the
		// point is what refusing costs.
		{"deep-200000", func(t *testing.T) []byte { return inputDeepConfig(t, 200_000) }, "nested more than 64 deep"},
		{"deep-14000", func(t *testing.T) []byte { return inputDeepConfig(t, 14_000) }, "nested more than 64 deep"},
		{"huge-64MiB", func(t *testing.T) []byte { return inputHugeConfig(t, 64<<20) }, "more than the limit of 4194304"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEnv(t, "")
			bundle := e.Bundle("hardened", nil, tc.raw(t), integration.RootfsOptions{})
			rt, maxRSS := inputMeasured(e.Runcage(""))
			res := e.Run(rt, bundle)
			msg := LastError(rt)
			if res.Exit == 0 || !strings.Contains(msg, tc.want) {
				t.Fatalf("runcage did not refuse with %q: %q\n%s", tc.want, msg, res)
			}
			kb := maxRSS(res)
			t.Logf("refused in %v, max RSS %d KB: %s", res.Elapsed, kb, msg)
			if kb < 0 || kb >= inputMaxRSSKB {
				t.Errorf("max RSS %d KB, want 0 to %d KB", kb, inputMaxRSSKB)
			}
		})
	}
	// A config.json just below the size limit, of real structure, is
	// accepted, and runcage's whole create (with /bin/true as the delegate,
	// so that runc's own memory is not counted) stays below 64 MB.
	t.Run("large-but-allowed", func(t *testing.T) {
		e := NewEnv(t, "")
		e.Policy = filepath.Join(e.Dir, "true-delegate.toml")
		if err := os.WriteFile(e.Policy, []byte("runtime = \"/bin/true\"\nstate_dir = "+strconv.Quote(e.StateDir)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		raw := inputHugeConfig(t, 4<<20-128<<10)
		bundle := e.Bundle("hardened", nil, raw, integration.RootfsOptions{})
		rt, maxRSS := inputMeasured(e.Runcage(""))
		id := NewID()
		res := rt.Exec(invokeTimeout, "create", "--bundle", bundle, id)
		if res.Exit != 0 {
			t.Fatalf("a %d-byte config.json was refused: %s\n%s", len(raw), LastError(rt), res)
		}
		rt.Exec(invokeTimeout, "delete", id)
		kb := maxRSS(res)
		t.Logf("%d-byte config rewritten in %v, max RSS %d KB", len(raw), res.Elapsed, kb)
		if kb < 0 || kb >= inputMaxRSSKB {
			t.Errorf("max RSS %d KB, want 0 to %d KB", kb, inputMaxRSSKB)
		}
	})
	// An exec process file is held to the same limits.
	t.Run("exec-process-deep", func(t *testing.T) {
		e := NewEnv(t, "")
		p := filepath.Join(e.Dir, "process.json")
		deep := `{"x":` + strings.Repeat("[", 200_000) + strings.Repeat("]", 200_000) + `,"cwd":"/","args":["true"]}`
		if err := os.WriteFile(p, []byte(deep), 0o600); err != nil {
			t.Fatal(err)
		}
		rt, maxRSS := inputMeasured(e.Runcage(""))
		rt.Log = filepath.Join(e.Dir, "exec.log")
		res := rt.Exec(invokeTimeout, "exec", "--process", p, "no-such-container")
		if res.Exit == 0 {
			t.Fatalf("exec with a 200,000-deep process file succeeded: %s", res)
		}
		kb := maxRSS(res)
		t.Logf("exit %d in %v, max RSS %d KB: %s", res.Exit, res.Elapsed, kb, LastError(rt))
		if kb < 0 || kb >= inputMaxRSSKB {
			t.Errorf("max RSS %d KB, want 0 to %d KB", kb, inputMaxRSSKB)
		}
		if !strings.Contains(LastError(rt), "nested more than 64 deep") {
			t.Errorf("refusal %q does not name the depth limit", LastError(rt))
		}
	})
}
