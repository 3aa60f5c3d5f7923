package userns

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles"
)

// newAlloc returns an allocator on a fresh directory that ignores the
// host's /etc/subuid and /etc/subgid.
func newAlloc(t *testing.T) *Allocator {
	t.Helper()
	return &Allocator{Dir: filepath.Join(t.TempDir(), "userns"), SubIDFiles: []string{}}
}

func mustAcquire(t *testing.T, a *Allocator, key, cid string) Range {
	t.Helper()
	r, err := a.Acquire(key, cid)
	if err != nil {
		t.Fatalf("Acquire(%q, %q): %v", key, cid, err)
	}
	return r
}

// assertDisjoint fails when two different keys hold overlapping ranges, or
// a range includes host id 0.
func assertDisjoint(t *testing.T, got map[string]Range) {
	t.Helper()
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if got[k].HostID == 0 || got[k].Size == 0 {
			t.Errorf("pod %q got range %s", k, got[k])
		}
		for _, k2 := range keys[i+1:] {
			if got[k].overlaps(got[k2]) {
				t.Errorf("pods %q and %q share ids: %s and %s", k, k2, got[k], got[k2])
			}
		}
	}
}

func TestAcquireDefaults(t *testing.T) {
	a := newAlloc(t)
	r := mustAcquire(t, a, "pod", "c1")
	if want := (Range{HostID: DefaultPoolStart, Size: DefaultSize}); r != want {
		t.Fatalf("first range = %s, want %s", r, want)
	}
	if got := r.Mappings(); len(got) != 1 || got[0].ContainerID != 0 || got[0].HostID != r.HostID || got[0].Size != r.Size {
		t.Fatalf("Mappings() = %+v", got)
	}
}

func TestAcquireSharingAndRelease(t *testing.T) {
	a := newAlloc(t)
	r1 := mustAcquire(t, a, "pod-a", "c1")
	if again := mustAcquire(t, a, "pod-a", "c1"); again != r1 {
		t.Fatalf("idempotent Acquire gave %s, then %s", r1, again)
	}
	if r2 := mustAcquire(t, a, "pod-a", "c2"); r2 != r1 {
		t.Fatalf("second container of a pod got %s, want the pod's %s", r2, r1)
	}
	rb := mustAcquire(t, a, "pod-b", "c3")
	assertDisjoint(t, map[string]Range{"pod-a": r1, "pod-b": rb})

	if _, err := a.Acquire("pod-b", "c1"); err == nil {
		t.Fatal("a container of pod-a acquired pod-b's range")
	}
	als, err := a.Allocations()
	if err != nil {
		t.Fatal(err)
	}
	if len(als) != 2 || als[0].Key != "pod-a" || !slices.Equal(als[0].Containers, []string{"c1", "c2"}) {
		t.Fatalf("Allocations() = %+v", als)
	}

	// Release frees only with the last container.
	if freed, err := a.Release("c1"); err != nil || freed != nil {
		t.Fatalf("Release(c1) = %v, %v; want nil, nil (c2 still uses the range)", freed, err)
	}
	if freed, err := a.Release("c2"); err != nil || freed == nil || *freed != r1 {
		t.Fatalf("Release(c2) = %v, %v; want %s", freed, err, r1)
	}
	if freed, err := a.Release("c2"); err != nil || freed != nil {
		t.Fatalf("second Release(c2) = %v, %v; want nil, nil", freed, err)
	}
	if freed, err := a.Release("never-seen"); err != nil || freed != nil {
		t.Fatalf("Release(never-seen) = %v, %v", freed, err)
	}
	// The freed range is handed out again, and not to a pod that has one.
	if r := mustAcquire(t, a, "pod-c", "c4"); r != r1 {
		t.Fatalf("pod-c got %s, want the freed %s", r, r1)
	}
}

func TestAcquirePoolExhausted(t *testing.T) {
	a := newAlloc(t)
	a.PoolStart, a.PoolEnd, a.Size = 100000, 100000+3*1000, 1000
	got := map[string]Range{}
	for i := range 3 {
		k := fmt.Sprintf("pod-%d", i)
		got[k] = mustAcquire(t, a, k, "c"+k)
	}
	assertDisjoint(t, got)
	_, err := a.Acquire("pod-3", "c-pod-3")
	if !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("fourth Acquire: err = %v, want ErrPoolExhausted", err)
	}
	if als, _ := a.Allocations(); len(als) != 3 {
		t.Fatalf("a failed Acquire changed the state: %+v", als)
	}
	if _, err := a.Release("cpod-1"); err != nil {
		t.Fatal(err)
	}
	if r := mustAcquire(t, a, "pod-3", "c-pod-3"); r != got["pod-1"] {
		t.Fatalf("after a release got %s, want %s", r, got["pod-1"])
	}
}

func TestAcquireNeverZero(t *testing.T) {
	if start, ok := firstFit([]interval{{0, 1}}, 0, 100, 10); !ok || start != 1 {
		t.Fatalf("firstFit from 0 = %d, %v; want 1", start, ok)
	}
	a := newAlloc(t)
	a.PoolStart, a.PoolEnd, a.Size = 1, 1000, 10
	if r := mustAcquire(t, a, "p", "c"); r.HostID == 0 {
		t.Fatalf("got host id 0")
	}
}

func TestAcquireBadConfig(t *testing.T) {
	for _, a := range []*Allocator{
		{},
		{Dir: t.TempDir(), PoolStart: 5000, PoolEnd: 4000},
	} {
		if _, err := a.Acquire("k", "c"); err == nil {
			t.Errorf("Acquire with %+v succeeded", a)
		}
	}
	a := newAlloc(t)
	for _, kc := range [][2]string{{"", "c"}, {"k", ""}, {strings.Repeat("k", maxNameLen+1), "c"}} {
		if _, err := a.Acquire(kc[0], kc[1]); err == nil {
			t.Errorf("Acquire(%q, %q) succeeded", kc[0], kc[1])
		}
	}
}

func TestAcquireSkipsSubIDRanges(t *testing.T) {
	dir := t.TempDir()
	subuid := filepath.Join(dir, "subuid")
	subgid := filepath.Join(dir, "subgid")
	writeFile(t, subuid, strings.Join([]string{
		"# comment",
		"alice:100000:65536",
		"",
		"malformed",
		"::",
		"x:1:",
		"y:abc:5",
		"z:5:0",
		"too:many:fields:here",
		"neg:-5:10",
		"big:99999999999:5",
		"bob:231072:65536",
		"   carol:165536:65536   ",
	}, "\n"))
	writeFile(t, subgid, "dave:296608:1\n")
	a := &Allocator{Dir: filepath.Join(dir, "state"), SubIDFiles: []string{subuid, subgid, filepath.Join(dir, "missing")}}
	r := mustAcquire(t, a, "p", "c")
	for _, s := range []Range{{100000, 65536}, {165536, 65536}, {231072, 65536}, {296608, 1}} {
		if r.overlaps(s) {
			t.Fatalf("got %s, which overlaps sub-id range %s", r, s)
		}
	}
	if r.HostID != 296609 {
		t.Fatalf("got %s, want the first free id 296609", r)
	}
}

func TestParseSubIDNeverPanics(t *testing.T) {
	for _, in := range []string{"", ":", "::::", "a:1:2\x00", "a:4294967295:4294967295", "\n\n\r\n", "a:1:1:"} {
		_ = parseSubID(in)
	}
	got := parseSubID("a:4294967295:4294967295\nb:10:5\r\n")
	want := []Range{{4294967295, 4294967295}, {10, 5}}
	if !slices.Equal(got, want) {
		t.Fatalf("parseSubID = %v, want %v", got, want)
	}
	// A range that reaches the top of the id space does not wrap around.
	if got[0].end() != 2*4294967295 || got[0].overlaps(Range{0, 100}) {
		t.Fatalf("range at the top wrapped: end %d", got[0].end())
	}
}

func FuzzParseSubID(f *testing.F) {
	f.Add("alice:100000:65536\n")
	f.Add("::\n:1:\nx:99999999999:1")
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range parseSubID(s) {
			if r.Size == 0 {
				t.Fatalf("empty range from %q", s)
			}
		}
	})
}

func TestAllocationsPersist(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "userns")
	a1 := &Allocator{Dir: dir, SubIDFiles: []string{}}
	r1 := mustAcquire(t, a1, "pod-a", "c1")
	// A second Allocator value (another runcage process) sees it.
	a2 := &Allocator{Dir: dir, SubIDFiles: []string{}}
	if key, ok, err := a2.Owner(r1); err != nil || !ok || key != "pod-a" {
		t.Fatalf("Owner(%s) = %q, %v, %v", r1, key, ok, err)
	}
	r2 := mustAcquire(t, a2, "pod-b", "c2")
	assertDisjoint(t, map[string]Range{"pod-a": r1, "pod-b": r2})
	if freed, err := a2.Release("c1"); err != nil || freed == nil || *freed != r1 {
		t.Fatalf("Release via another Allocator = %v, %v", freed, err)
	}
	data, err := os.ReadFile(filepath.Join(dir, stateName))
	if err != nil {
		t.Fatal(err)
	}
	var st stateDoc
	if err := json.Unmarshal(data, &st); err != nil || st.Version != stateVersion || len(st.Pods) != 1 || st.Pods["pod-b"] == nil {
		t.Fatalf("state file = %s (%v)", data, err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("state dir mode = %v, %v", fi.Mode(), err)
	}
}

func TestAllocationsCrashLeftovers(t *testing.T) {
	a := newAlloc(t)
	r1 := mustAcquire(t, a, "pod-a", "c1")
	// A writer that crashed after creating its temp file, before the rename.
	stale := filepath.Join(a.Dir, tmpPrefix+"deadbeef")
	writeFile(t, stale, `{"version":1,"pods":{}}`)
	r2 := mustAcquire(t, a, "pod-b", "c2")
	assertDisjoint(t, map[string]Range{"pod-a": r1, "pod-b": r2})
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale temp file left behind: %v", err)
	}
}

func TestAllocationsCorruptFailsClosed(t *testing.T) {
	a := newAlloc(t)
	mustAcquire(t, a, "pod-a", "c1")
	path := filepath.Join(a.Dir, stateName)
	for _, bad := range []string{"{", `{"version":99,"pods":{}}`, `{"version":1,"pods":{"x":{"ranges":[],"containers":["c"]}}}`} {
		writeFile(t, path, bad)
		if _, err := a.Acquire("pod-b", "c2"); err == nil {
			t.Errorf("Acquire on state %q succeeded", bad)
		}
		if _, _, err := a.Overlaps(Range{HostID: 1, Size: 1}, ""); err == nil {
			t.Errorf("Overlaps on state %q succeeded", bad)
		}
		if got, _ := os.ReadFile(path); string(got) != bad {
			t.Errorf("state %q was rewritten to %q", bad, got)
		}
	}
}

func TestOwnerAndOverlaps(t *testing.T) {
	a := newAlloc(t)
	ra := mustAcquire(t, a, "pod-a", "c1")
	rb := mustAcquire(t, a, "pod-b", "c2")
	tests := []struct {
		r         Range
		except    string
		owner     string
		overlapBy string
	}{
		{ra, "", "pod-a", "pod-a"},
		{Range{ra.HostID + 10, 10}, "", "pod-a", "pod-a"},
		{ra, "pod-a", "pod-a", ""},
		{Range{ra.HostID + ra.Size - 1, 2}, "pod-a", "", "pod-b"}, // straddles a and b
		{Range{uint32(rb.end()), 100}, "", "", ""},
		{Range{1, 10}, "", "", ""},
	}
	for _, tt := range tests {
		owner, ok, err := a.Owner(tt.r)
		if err != nil || ok != (tt.owner != "") || owner != tt.owner {
			t.Errorf("Owner(%s) = %q, %v, %v; want %q", tt.r, owner, ok, err, tt.owner)
		}
		by, ok, err := a.Overlaps(tt.r, tt.except)
		if err != nil || ok != (tt.overlapBy != "") || by != tt.overlapBy {
			t.Errorf("Overlaps(%s, %q) = %q, %v, %v; want %q", tt.r, tt.except, by, ok, err, tt.overlapBy)
		}
	}
}

func TestReserve(t *testing.T) {
	a := newAlloc(t)
	ra := mustAcquire(t, a, "pod-a", "c1") // 100000-165535

	kube := Range{HostID: 165536, Size: 65536}
	if err := a.Reserve("pod-k", "k1", []Range{kube}); err != nil {
		t.Fatal(err)
	}
	if err := a.Reserve("pod-k", "k2", []Range{kube}); err != nil {
		t.Fatal(err)
	}
	// Acquire skips the reserved range.
	rb := mustAcquire(t, a, "pod-b", "c2")
	assertDisjoint(t, map[string]Range{"pod-a": ra, "pod-b": rb, "pod-k": kube})
	if rb.HostID != kube.HostID+kube.Size {
		t.Fatalf("pod-b got %s, want the range after %s", rb, kube)
	}
	// A container of a pod with its own mappings gets no injected range.
	if _, err := a.Acquire("pod-k", "k3"); !errors.Is(err, profiles.ErrRefused) {
		t.Fatalf("Acquire on a bundle-mapped pod: err = %v, want a refusal", err)
	}

	refused := []struct {
		key string
		r   Range
	}{
		{"pod-x", Range{ra.HostID + 5, 10}},            // inside pod-a's
		{"pod-x", Range{kube.HostID - 1, 2}},           // straddles
		{"pod-x", Range{0, 65536}},                     // host 0
		{"pod-x", Range{1 << 30, 0}},                   // empty
		{"pod-a", Range{uint32(rb.end()) + 10, 65536}}, // outside pod-a's allocated range
	}
	for _, tt := range refused {
		if err := a.Reserve(tt.key, "x", []Range{tt.r}); !errors.Is(err, profiles.ErrRefused) {
			t.Errorf("Reserve(%q, %s): err = %v, want a refusal", tt.key, tt.r, err)
		}
	}
	// Within a pod's own allocated range is fine (the pod's containers
	// share it).
	if err := a.Reserve("pod-a", "c9", []Range{{ra.HostID, 1000}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"k1", "k2"} {
		if _, err := a.Release(c); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, _ := a.Owner(kube); ok {
		t.Fatal("reserved range still held after its last container was released")
	}
}

// TestAcquireConcurrentGoroutines runs 50 Acquires at once, two per pod.
func TestAcquireConcurrentGoroutines(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "userns")
	const n = 50
	var wg sync.WaitGroup
	results := make([]Range, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			// A fresh Allocator per goroutine, as separate processes would have.
			a := &Allocator{Dir: dir, SubIDFiles: []string{}}
			results[i], errs[i] = a.Acquire(fmt.Sprintf("pod-%d", i/2), fmt.Sprintf("c-%d", i))
		})
	}
	wg.Wait()
	byKey := map[string]Range{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
		k := fmt.Sprintf("pod-%d", i/2)
		if prev, ok := byKey[k]; ok && prev != results[i] {
			t.Fatalf("containers of %s got %s and %s", k, prev, results[i])
		}
		byKey[k] = results[i]
	}
	assertDisjoint(t, byKey)
	als, err := (&Allocator{Dir: dir}).Allocations()
	if err != nil || len(als) != n/2 {
		t.Fatalf("%d allocations (%v), want %d", len(als), err, n/2)
	}
	for _, al := range als {
		if len(al.Containers) != 2 || al.Ranges[0] != byKey[al.Key] {
			t.Fatalf("allocation %+v does not match what Acquire returned", al)
		}
	}
}

const helperEnv = "RUNCAGE_USERNS_TEST_HELPER"

// TestHelperProcess is not a test: the process tests run the test binary
// again with helperEnv set, and this function then plays one runcage
// process.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	a := &Allocator{Dir: os.Getenv("HELPER_DIR"), SubIDFiles: []string{}}
	switch mode {
	case "acquire":
		r, err := a.Acquire(os.Getenv("HELPER_KEY"), os.Getenv("HELPER_CID"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		// Exit without Release: a runcage that ends between create and
		// delete, as far as the allocator can tell.
		fmt.Printf("%d %d\n", r.HostID, r.Size)
		os.Exit(0)
	case "hold-lock":
		// Die while holding the lock, mid-update.
		err := withState(a.Dir, true, func(*stateDoc) (bool, error) {
			fmt.Println("locked")
			time.Sleep(time.Minute)
			return false, nil
		})
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(2)
}

func helperCmd(t *testing.T, mode, dir string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "HELPER_DIR="+dir)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// TestAcquireConcurrentProcesses runs 20 processes that each acquire a
// range for their own pod at the same time.
func TestAcquireConcurrentProcesses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "userns")
	const n = 20
	cmds := make([]*exec.Cmd, n)
	outs := make([]*strings.Builder, n)
	for i := range n {
		cmds[i] = helperCmd(t, "acquire", dir, fmt.Sprintf("HELPER_KEY=pod-%d", i), fmt.Sprintf("HELPER_CID=c-%d", i))
		outs[i] = new(strings.Builder)
		cmds[i].Stdout = outs[i]
		cmds[i].Stderr = os.Stderr
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]Range{}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper %d: %v", i, err)
		}
		var r Range
		if _, err := fmt.Sscanf(outs[i].String(), "%d %d", &r.HostID, &r.Size); err != nil {
			t.Fatalf("helper %d printed %q: %v", i, outs[i].String(), err)
		}
		got[fmt.Sprintf("pod-%d", i)] = r
	}
	assertDisjoint(t, got)
	// The helpers exited without releasing; the state on disk still holds
	// every range, and a new Allocator continues from it.
	a := &Allocator{Dir: dir, SubIDFiles: []string{}}
	als, err := a.Allocations()
	if err != nil || len(als) != n {
		t.Fatalf("%d allocations on disk (%v), want %d", len(als), err, n)
	}
	for _, al := range als {
		if al.Ranges[0] != got[al.Key] {
			t.Fatalf("on disk %s has %s, the helper got %s", al.Key, al.Ranges[0], got[al.Key])
		}
	}
	got["late"] = mustAcquire(t, a, "late", "c-late")
	assertDisjoint(t, got)
}

// TestLockHolderKilled kills a process while it holds the allocation lock;
// the next Acquire must not hang or see a half-written state.
func TestLockHolderKilled(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "userns")
	a := &Allocator{Dir: dir, SubIDFiles: []string{}}
	r0 := mustAcquire(t, a, "pod-0", "c0")
	cmd := helperCmd(t, "hold-lock", dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	// While it holds the lock, a non-blocking attempt must fail.
	lf, err := os.Open(filepath.Join(dir, lockName))
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if err := unix.Flock(int(lf.Fd()), unix.LOCK_EX|unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatalf("lock not held by the helper: %v", err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	type result struct {
		r   Range
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := a.Acquire("pod-1", "c1")
		done <- result{r, err}
	}()
	select {
	case res := <-done:
		if res.err != nil {
			t.Fatal(res.err)
		}
		assertDisjoint(t, map[string]Range{"pod-0": r0, "pod-1": res.r})
	case <-time.After(30 * time.Second):
		t.Fatal("Acquire still blocked after the lock holder died")
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
