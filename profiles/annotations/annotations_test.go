package annotations

import (
	"errors"
	"strings"
	"testing"

	"github.com/runcage/runcage/profiles"
)

func TestEscape(t *testing.T) {
	long := strings.Repeat("a", 10000)
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "plain", in: "default", want: `"default"`},
		{name: "empty", in: "", want: `""`},
		{name: "newline", in: "a\nlevel=error msg=forged", want: `"a\nlevel=error msg=forged"`},
		{name: "carriage return", in: "a\rb", want: `"a\rb"`},
		{name: "ESC sequence", in: "\x1b[31mred\x1b[0m", want: `"\x1b[31mred\x1b[0m"`},
		{name: "NUL", in: "a\x00b", want: `"a\x00b"`},
		{name: "quote and backslash", in: `a"b\c`, want: `"a\"b\\c"`},
		{name: "invalid UTF-8", in: "a\xffb", want: `"a\xffb"`},
		{name: "bidi override", in: "a\u202eb", want: `"a\u202eb"`},
		{name: "printable unicode kept", in: "héllo", want: `"héllo"`},
		{name: "very long", in: long, want: `"` + long[:256] + `"... (10000 bytes)`},
		{name: "long, cut at rune boundary", in: strings.Repeat("a", 255) + "é" + long, want: `"` + strings.Repeat("a", 255) + `"... (10257 bytes)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Escape(tt.in)
			if got != tt.want {
				t.Errorf("Escape(%q) = %s, want %s", tt.in, got, tt.want)
			}
			if strings.ContainsAny(got, "\n\r\x1b\x00\u202e") {
				t.Errorf("Escape(%q) = %q keeps a raw control character", tt.in, got)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		in      map[string]string
		refused string // empty means no error
	}{
		{name: "nil"},
		{name: "foreign annotations untouched", in: map[string]string{"io.kubernetes.cri.sandbox-id": "abc\n", "x": "\x1b"}},
		{name: "profile", in: map[string]string{Profile: "default"}},
		{name: "profile with all allowed bytes", in: map[string]string{Profile: "Web-1_a.b"}},
		{name: "profile of 64 bytes", in: map[string]string{Profile: strings.Repeat("p", 64)}},
		{name: "recording name", in: map[string]string{RecordingName: "nginx-2024.06"}},
		{
			name:    "unknown key",
			in:      map[string]string{"runcage.dev/profiles": "default"},
			refused: `annotation "runcage.dev/profiles" refused: unknown runcage.dev/ annotation`,
		},
		{
			name:    "unknown key in another case",
			in:      map[string]string{"RunCage.dev/Profile": "default"},
			refused: `annotation "RunCage.dev/Profile" refused`,
		},
		{
			name:    "unknown key with hostile bytes",
			in:      map[string]string{"runcage.dev/\x1b[31m\n": "x"},
			refused: `annotation "runcage.dev/\x1b[31m\n" refused`,
		},
		{
			name:    "very long unknown key is clipped",
			in:      map[string]string{"runcage.dev/" + strings.Repeat("k", 5000): "x"},
			refused: `kkk..." refused`,
		},
		{
			name:    "empty profile",
			in:      map[string]string{Profile: ""},
			refused: `annotation "runcage.dev/profile": name "" refused: empty`,
		},
		{
			name:    "profile with newline",
			in:      map[string]string{Profile: "default\nlevel=info"},
			refused: `name "default\nlevel=info" refused: only letters`,
		},
		{
			name:    "profile with ESC",
			in:      map[string]string{Profile: "\x1b[31mdefault"},
			refused: `name "\x1b[31mdefault" refused`,
		},
		{
			name:    "profile with NUL",
			in:      map[string]string{Profile: "default\x00"},
			refused: `name "default\x00" refused`,
		},
		{
			name:    "profile with slash",
			in:      map[string]string{Profile: "../../etc"},
			refused: `name "../../etc" refused`,
		},
		{
			name:    "profile dot-dot",
			in:      map[string]string{Profile: ".."},
			refused: `name ".." refused: not a valid name`,
		},
		{
			name:    "profile with space",
			in:      map[string]string{Profile: "de fault"},
			refused: `name "de fault" refused`,
		},
		{
			name:    "profile with non-ASCII letter",
			in:      map[string]string{Profile: "défault"},
			refused: `refused: only letters`,
		},
		{
			name:    "profile of 65 bytes",
			in:      map[string]string{Profile: strings.Repeat("p", 65)},
			refused: "longer than 64 bytes (65)",
		},
		{
			name:    "very long profile is clipped",
			in:      map[string]string{Profile: strings.Repeat("p", 1<<20)},
			refused: "longer than 64 bytes (1048576)",
		},
		{
			name:    "recording name traversal",
			in:      map[string]string{RecordingName: "../../../etc/cron.d/x"},
			refused: `annotation "runcage.dev/recording-name": name "../../../etc/cron.d/x" refused`,
		},
		{
			name:    "first bad key in sorted order",
			in:      map[string]string{"runcage.dev/zzz": "", "runcage.dev/aaa": ""},
			refused: `"runcage.dev/aaa"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.in)
			if tt.refused == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error, want refusal containing %q", tt.refused)
			}
			if !errors.Is(err, profiles.ErrRefused) {
				t.Errorf("error %q is not ErrRefused", err)
			}
			if !strings.Contains(err.Error(), tt.refused) {
				t.Errorf("error %q does not contain %q", err, tt.refused)
			}
			if strings.ContainsAny(err.Error(), "\n\r\x1b\x00") {
				t.Errorf("error %q contains raw control bytes", err)
			}
			if len(err.Error()) > 1024 {
				t.Errorf("error is %d bytes long", len(err.Error()))
			}
		})
	}
}
