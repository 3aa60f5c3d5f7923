package spec

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// nested returns a config.json-like object with n levels of nesting: n-1
// arrays inside the top-level object.
func nested(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"x":`)
	b.WriteString(strings.Repeat("[", n-1))
	b.WriteString(strings.Repeat("]", n-1))
	b.WriteString(`}`)
	return b.Bytes()
}

func TestCheckJSONLimits(t *testing.T) {
	for _, tc := range []struct {
		name    string
		data    []byte
		tooDeep bool
	}{
		{"flat", []byte(`{"a":1}`), false},
		{"at the limit", nested(MaxDepth), false},
		{"one deeper", nested(MaxDepth + 1), true},
		{"brackets in strings do not count", []byte(`{"a":"` + strings.Repeat("[{", 500) + `"}`), false},
		{"escaped quote keeps the string open", []byte(`{"a":"\"` + strings.Repeat("[", 500) + `"}`), false},
		{"escaped backslash closes the string", []byte(`{"a":"\\"` + strings.Repeat("[", 100) + `}`), true},
		{"objects count like arrays", []byte(strings.Repeat(`{"a":`, MaxDepth+1)), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckJSONLimits(tc.data)
			if got := errors.Is(err, ErrTooLarge); got != tc.tooDeep {
				t.Errorf("CheckJSONLimits: %v, want too deep %v", err, tc.tooDeep)
			}
		})
	}
	if err := checkJSONLimits(make([]byte, 11), 10, 5); !errors.Is(err, ErrTooLarge) {
		t.Errorf("11 bytes with a limit of 10: %v, want ErrTooLarge", err)
	}
}

// TestDeepConfigIsCheap: refusing a 200,000-deep config (the review's
// out-of-memory case) must take little time and allocate almost nothing.
func TestDeepConfigIsCheap(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"arrays", nested(200_000)},
		{"objects", []byte(strings.Repeat(`{"a":`, 200_000) + "1" + strings.Repeat("}", 200_000))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := Parse(tc.data)
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrMalformed) || !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Parse: %v, want ErrMalformed and ErrTooLarge", err)
			}
			if !strings.Contains(err.Error(), "nested more than 64 deep") {
				t.Errorf("error %q does not name the depth limit", err)
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes refused in %v, %d bytes allocated", len(tc.data), took, alloc)
			if took > 50*time.Millisecond {
				t.Errorf("refusing took %v, want < 50ms", took)
			}
			if alloc > 16<<20 {
				t.Errorf("refusing allocated %d bytes, want < 16 MiB", alloc)
			}
		})
	}
}

// TestDuplicateKeyWalkIsLinear: the walk that finds duplicate keys must not
// build a path string per level (quadratic in depth) or per element.
func TestDuplicateKeyWalkIsLinear(t *testing.T) {
	wide := []byte(`{"a":[` + strings.Repeat(`{"k":"v"},`, 100_000) + `1]}`)
	deep := nested(MaxDepth)
	for _, data := range [][]byte{wide, deep} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if err := checkStructure(data); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(100*len(data)) {
			t.Errorf("walk of %d bytes allocated %d bytes", len(data), alloc)
		}
	}
	err := checkStructure([]byte(`{"a":[{"b":{"c":1,"C":2}}]}`))
	if err == nil || !strings.Contains(err.Error(), "$.a[0].b") {
		t.Errorf("duplicate key error %v does not name $.a[0].b", err)
	}
}

func TestReadLimited(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, make([]byte, 100), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		max     int64
		tooBig  bool
		wantLen int
	}{
		{100, false, 100},
		{99, true, 0},
		{1 << 20, false, 100},
	} {
		data, _, err := ReadLimited(p, tc.max)
		if errors.Is(err, ErrTooLarge) != tc.tooBig || len(data) != tc.wantLen {
			t.Errorf("ReadLimited(max %d): %d bytes, %v; want too big %v, %d bytes", tc.max, len(data), err, tc.tooBig, tc.wantLen)
		}
	}
	if _, err := ReadAllLimited(strings.NewReader(strings.Repeat("x", 11)), 10); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadAllLimited of 11 bytes, max 10: %v, want ErrTooLarge", err)
	}
}
