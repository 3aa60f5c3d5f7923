package main

import (
	"bytes"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/runcage/runcage/profiles/policy"
	"github.com/runcage/runcage/runtime/commands"
	"github.com/runcage/runcage/runtime/spec"
)

// fastPathVerbs reads fastpath.c's verb table: each verb with its flags in
// runtime/args.go's argvFlags spec form ("format,f=s quiet,q") and whether
// urfave reorders its arguments.
func fastPathVerbs(t *testing.T) (names []string, flags map[string]string, reorder map[string]bool) {
	return fastPathTable(t, "verbs")
}

// fastPathTable reads the verb table name of fastpath.c as fastPathVerbs
// reads verbs.
func fastPathTable(t *testing.T, name string) (names []string, flags map[string]string, reorder map[string]bool) {
	t.Helper()
	src, err := os.ReadFile("fastpath.c")
	if err != nil {
		t.Fatal(err)
	}
	table := regexp.MustCompile(`(?s)static const struct verb ` + name + `\[\] = \{(.*?)\n\};`).FindSubmatch(src)
	if table == nil {
		t.Fatalf("fastpath.c: no %s table", name)
	}
	flags, reorder = map[string]string{}, map[string]bool{}
	kinds := map[string]string{"BOOL": "", "VALUE": "=s", "DURATION": "=d"}
	flagRE := regexp.MustCompile(`\{"([a-z-]+)", (?:"([a-z])"|NULL), ([A-Z]+)\}`)
	for _, m := range regexp.MustCompile(`\n\t\{"([a-z]+)", ([01]), (.*)\},`).FindAllStringSubmatch(string(table[1]), -1) {
		var spec []string
		for _, f := range flagRE.FindAllStringSubmatch(m[3], -1) {
			s := f[1]
			if f[2] != "" {
				s += "," + f[2]
			}
			spec = append(spec, s+kinds[f[3]])
		}
		names = append(names, m[1])
		flags[m[1]] = strings.Join(spec, " ")
		reorder[m[1]] = m[2] == "1"
	}
	return names, flags, reorder
}

// TestFastPathVerbsArePassThrough keeps fastpath.c's verb table to exactly
// the verbs runtime.Main forwards untouched (never create, run, exec,
// update, delete, restore or checkpoint), none of them one of runcage's own
// commands.
func TestFastPathVerbsArePassThrough(t *testing.T) {
	got, _, _ := fastPathVerbs(t)
	want := []string{"start", "state", "kill", "ps", "events", "pause", "resume", "list", "features", "spec"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("fastpath.c verbs %q, want %q", got, want)
	}
	for _, v := range got {
		if commands.Is(v) {
			t.Errorf("fastpath.c verb %q is one of runcage's own commands", v)
		}
	}
}

// TestFastPathVerbFlagsMatchScan keeps fastpath.c's verb flags in step with
// runtime/args.go's table of runc's verbs, which runtime.Scan reads them by.
func TestFastPathVerbFlagsMatchScan(t *testing.T) {
	src, err := os.ReadFile("../../runtime/args.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"verbs", "ahead"} {
		names, flags, reorder := fastPathTable(t, table)
		verbFlagsMatch(t, src, names, flags, reorder)
	}
}

// TestFastPathAheadIsDelete keeps fastpath.c's ahead table (the verbs whose
// delegate starts before Go, runtime.Ahead) to delete, and its copies of
// where the state directory and the container lock are to profiles/policy
// and runtime.lockContainer.
func TestFastPathAheadIsDelete(t *testing.T) {
	if got, _, _ := fastPathTable(t, "ahead"); strings.Join(got, " ") != "delete" {
		t.Fatalf("fastpath.c ahead verbs %q, want only delete", got)
	}
	src, err := os.ReadFile("fastpath.c")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"STATE_DIR_DEFAULT": strconv.Quote(policy.DefaultStateDir), "LOCK_FILE": `"containers.lock"`} {
		m := regexp.MustCompile(`#define ` + name + ` (\S+)`).FindSubmatch(src)
		if m == nil || string(m[1]) != want {
			t.Errorf("fastpath.c %s is %q, want %s", name, m, want)
		}
	}
	gosrc, err := os.ReadFile("../../runtime/identity.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(gosrc, []byte(`filepath.Join(stateDir, "containers.lock")`)) || !bytes.Contains(gosrc, []byte("fnv.New64a()")) ||
		!bytes.Contains(gosrc, []byte("h.Sum64() % (1 << 30)")) {
		t.Error("runtime.lockContainer no longer locks byte FNV-1a-64(id) % 2^30 of <state_dir>/containers.lock, as fastpath.c's lockid does")
	}
}

func verbFlagsMatch(t *testing.T, src []byte, names []string, flags map[string]string, reorder map[string]bool) {
	t.Helper()
	for _, v := range names {
		m := regexp.MustCompile(`\n\t"` + v + `":\s+\{([^}]*)flags: argvFlags\("([^"]*)"\)\},`).FindSubmatch(src)
		if m == nil {
			t.Errorf("runtime/args.go: no one-line argvVerbs entry for %q", v)
			continue
		}
		if got, want := flags[v], string(m[2]); got != want {
			t.Errorf("fastpath.c flags of %q: %q, runtime/args.go: %q", v, got, want)
		}
		if got, want := reorder[v], !strings.Contains(string(m[1]), "noReorder: true"); got != want {
			t.Errorf("fastpath.c reorder of %q: %v, runtime/args.go: %v", v, got, want)
		}
	}
}

// TestFastPathGlobalFlagsMatchScan keeps fastpath.c's global flags in step
// with runtime/args.go's argvGlobal: the same flags, less version (and
// help), which the fast path leaves to Go.
func TestFastPathGlobalFlagsMatchScan(t *testing.T) {
	csrc, err := os.ReadFile("fastpath.c")
	if err != nil {
		t.Fatal(err)
	}
	gosrc, err := os.ReadFile("../../runtime/args.go")
	if err != nil {
		t.Fatal(err)
	}
	table := regexp.MustCompile(`(?s)static const struct flag globals\[\] = \{(.*?)\n\};`).FindSubmatch(csrc)
	want := regexp.MustCompile(`var argvGlobal = argvFlags\("([^"]*)"\)`).FindSubmatch(gosrc)
	if table == nil || want == nil {
		t.Fatal("no global flag table in fastpath.c or runtime/args.go")
	}
	kinds := map[string]string{"BOOL": "", "VALUE": "=s"}
	got := map[string]bool{"version,v": true}
	for _, f := range regexp.MustCompile(`\{"([a-z-]+)", NULL, ([A-Z]+)\}`).FindAllSubmatch(table[1], -1) {
		got[string(f[1])+kinds[string(f[2])]] = true
	}
	wantSet := map[string]bool{}
	for _, f := range strings.Fields(string(want[1])) {
		wantSet[f] = true
		if !got[f] {
			t.Errorf("runtime/args.go global flag %q is not in fastpath.c", f)
		}
	}
	for f := range got {
		if !wantSet[f] {
			t.Errorf("fastpath.c global flag %q is not in runtime/args.go", f)
		}
	}
}

// TestFastPathPolicyMatchesGo keeps fastpath.c's copy of the policy's
// location, size limit and top-level keys in step with profiles/policy and
// runtime/spec.
func TestFastPathPolicyMatchesGo(t *testing.T) {
	src, err := os.ReadFile("fastpath.c")
	if err != nil {
		t.Fatal(err)
	}
	define := func(name string) string {
		m := regexp.MustCompile(`#define ` + name + ` (\S+)`).FindSubmatch(src)
		if m == nil {
			t.Fatalf("fastpath.c: no #define %s", name)
		}
		return string(m[1])
	}
	if got, want := define("POLICY_DEFAULT_PATH"), strconv.Quote(policy.DefaultPath); got != want {
		t.Errorf("fastpath.c POLICY_DEFAULT_PATH %s, want %s", got, want)
	}
	if got, want := define("POLICY_ENV"), strconv.Quote(policy.EnvConfig); got != want {
		t.Errorf("fastpath.c POLICY_ENV %s, want %s", got, want)
	}
	if got := define("MAX_FILE_SIZE"); got != "(4" || spec.MaxFileSize != 4<<20 {
		t.Errorf("fastpath.c MAX_FILE_SIZE starts %s; spec.MaxFileSize is %d", got, spec.MaxFileSize)
	}
	table := regexp.MustCompile(`(?s)\} keys\[\] = \{(.*?)\n\};`).FindSubmatch(src)
	if table == nil {
		t.Fatal("fastpath.c: no keys table")
	}
	fields := map[string]reflect.Type{}
	pt := reflect.TypeOf(policy.Policy{})
	for i := 0; i < pt.NumField(); i++ {
		if tag := pt.Field(i).Tag.Get("toml"); tag != "" && tag != "-" {
			fields[tag] = pt.Field(i).Type
		}
	}
	keys := regexp.MustCompile(`\{"([a-z_]+)", ([01])\}`).FindAllSubmatch(table[1], -1)
	if len(keys) == 0 {
		t.Fatal("fastpath.c: empty keys table")
	}
	for _, k := range keys {
		name, str := string(k[1]), string(k[2]) == "1"
		typ, ok := fields[name]
		switch {
		case !ok:
			t.Errorf("fastpath.c policy key %q is not a top-level key of policy.Policy", name)
		case str && typ.Kind() != reflect.String:
			t.Errorf("fastpath.c policy key %q is a string, policy.Policy's is %v", name, typ)
		case !str && typ != reflect.TypeOf((*bool)(nil)):
			t.Errorf("fastpath.c policy key %q is a bool, policy.Policy's is %v", name, typ)
		}
	}
}
