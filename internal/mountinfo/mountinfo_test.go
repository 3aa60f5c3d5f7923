package mountinfo

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Mount
	}{
		{
			name: "optional fields and escapes",
			line: `36 35 98:0 /a\040b /mnt\134x rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue`,
			want: Mount{ID: 36, Parent: 35, Root: "/a b", MountPoint: `/mnt\x`, FSType: "ext3", Source: "/dev/root", SuperOptions: "rw,errors=continue"},
		},
		{
			name: "empty source keeps the super options in place",
			line: "40 1 0:5 / /m rw - tmpfs  rw,size=1k",
			want: Mount{ID: 40, Parent: 1, Root: "/", MountPoint: "/m", FSType: "tmpfs", Source: "", SuperOptions: "rw,size=1k"},
		},
		{
			name: "no super options",
			line: "41 1 0:6 / /n rw - proc proc",
			want: Mount{ID: 41, Parent: 1, Root: "/", MountPoint: "/n", FSType: "proc", Source: "proc"},
		},
		{
			name: "a backslash without three octal digits is kept",
			line: `42 1 0:7 / /p\9 rw - tmpfs none rw`,
			want: Mount{ID: 42, Parent: 1, Root: "/", MountPoint: `/p\9`, FSType: "tmpfs", Source: "none", SuperOptions: "rw"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.line + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || !reflect.DeepEqual(got[0], tt.want) {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.line, got, tt.want)
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	for _, bad := range []string{"1 2 3", "x 1 0:1 / /m rw - ext4 /dev/x rw", "1 1 0:1 / /m rw no-separator ext4"} {
		if _, err := Parse(strings.NewReader(bad + "\n")); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

func TestReadSelf(t *testing.T) {
	ms, err := Read()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.MountPoint == "/" {
			return
		}
	}
	t.Errorf("no mount at / in %d mounts", len(ms))
}
