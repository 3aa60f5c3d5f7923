// Package mountinfo reads /proc/self/mountinfo. It is the one parser of
// that format in runcage: the userns and cgroups profiles and the
// integration harness all read mounts through it.
package mountinfo

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Mount is one line of /proc/self/mountinfo. Root, MountPoint, FSType and
// Source are unescaped; SuperOptions is kept as the kernel printed it,
// because its escaping depends on the option.
type Mount struct {
	ID, Parent   int
	Root         string
	MountPoint   string
	FSType       string
	Source       string
	SuperOptions string
}

// Read parses /proc/self/mountinfo, in the kernel's order (parents before
// the mounts on top of them).
func Read() ([]Mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	defer f.Close()
	return Parse(f)
}

// Parse parses the format of proc(5):
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// Fields are separated by single spaces (an empty source shows as two).
// The optional fields end at a lone "-". Malformed lines are an error: the
// kernel does not print them, and guessing could unmount the wrong thing.
func Parse(r io.Reader) ([]Mount, error) {
	var out []Mount
	sc := bufio.NewScanner(r)
	// No buffer up front: the scanner starts small and grows to the
	// longest line, up to 1 MiB. A 64 KiB buffer made every call
	// (often for a few lines) allocate and fault in 64 KiB.
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		f := strings.Split(line, " ")
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+2 >= len(f) {
			return nil, fmt.Errorf("parse mountinfo line %q: too few fields", line)
		}
		id, err1 := strconv.Atoi(f[0])
		parent, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("parse mountinfo line %q: bad mount id", line)
		}
		m := Mount{
			ID:         id,
			Parent:     parent,
			Root:       Unescape(f[3]),
			MountPoint: Unescape(f[4]),
			FSType:     Unescape(f[sep+1]),
			Source:     Unescape(f[sep+2]),
		}
		if sep+3 < len(f) {
			m.SuperOptions = f[sep+3]
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return out, nil
}

// Unescape undoes the kernel's seq_escape: a backslash followed by three
// octal digits stands for that byte ("\040" is a space, "\134" a
// backslash). Any other backslash is kept.
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
