package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// hangReport describes, for a command that timed out, where its processes
// and every runc or runcage process on the host (agents and watchdogs
// included: they are not the command's children) are waiting: one line per
// thread with its state, kernel wait channel and current syscall. It is
// read just before the command is killed, so that a CI log shows what hung.
func hangReport(root int) string {
	type proc struct {
		pid, ppid int
		comm      string
	}
	var procs []proc
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// "pid (comm) state ppid ...": comm may hold spaces and parens.
		s := string(stat)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(s[end+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		procs = append(procs, proc{pid, ppid, s[open+1 : end]})
	}
	in := map[int]bool{root: true}
	for changed := true; changed; {
		changed = false
		for _, p := range procs {
			if !in[p.pid] && (in[p.ppid] || strings.HasPrefix(p.comm, "runc")) {
				in[p.pid], changed = true, true
			}
		}
	}
	var b strings.Builder
	for _, p := range procs {
		if !in[p.pid] {
			continue
		}
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", p.pid))
		slices.Sort(tasks)
		for _, task := range tasks {
			read := func(name string) string {
				v, _ := os.ReadFile(filepath.Join(task, name))
				return strings.TrimSpace(string(v))
			}
			state := ""
			for line := range strings.SplitSeq(read("status"), "\n") {
				if v, ok := strings.CutPrefix(line, "State:"); ok {
					state = strings.TrimSpace(v)
				}
			}
			sc, _, _ := strings.Cut(read("syscall"), " ")
			fmt.Fprintf(&b, "  pid %d ppid %d task %s %q: %s, wchan %s, syscall %s\n",
				p.pid, p.ppid, filepath.Base(task), p.comm, state, read("wchan"), sc)
		}
	}
	if b.Len() == 0 {
		return "  (no process left)\n"
	}
	return b.String()
}
