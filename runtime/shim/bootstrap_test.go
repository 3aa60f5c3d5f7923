package shim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	runcoptions "github.com/containerd/containerd/api/types/runc/options"
	runtimeoptions "github.com/containerd/containerd/pkg/runtimeoptions/v1"
	"github.com/containerd/typeurl/v2"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// bootstrapParams encodes a BootstrapParams (containerd 2.3+, see
// startInput) by its field numbers: what containerd always sets, one
// Extension per option, and socketDir when not "".
func bootstrapParams(t *testing.T, socketDir string, options ...any) []byte {
	t.Helper()
	var b []byte
	for _, f := range []struct {
		num protowire.Number
		v   string
	}{{1, "task-1"}, {2, "default"}, {4, "2.4.2"}, {5, "/run/containerd/containerd.sock.ttrpc"},
		{6, "/run/containerd/containerd.sock"}, {7, "/usr/bin/containerd"}} {
		b = protowire.AppendTag(b, f.num, protowire.BytesType)
		b = protowire.AppendString(b, f.v)
	}
	b = protowire.AppendTag(b, 3, protowire.VarintType)
	b = protowire.AppendVarint(b, 0) // LOG_LEVEL_INFO
	for _, o := range options {
		a, err := proto.Marshal(anyOf(t, o))
		if err != nil {
			t.Fatal(err)
		}
		ext := protowire.AppendTag(nil, 1, protowire.BytesType)
		ext = protowire.AppendBytes(ext, a)
		b = protowire.AppendTag(b, 8, protowire.BytesType)
		b = protowire.AppendBytes(b, ext)
	}
	if socketDir != "" {
		b = protowire.AppendTag(b, 9, protowire.BytesType)
		b = protowire.AppendString(b, socketDir)
	}
	return b
}

func TestDecodeStartInput(t *testing.T) {
	legacy, err := proto.Marshal(anyOf(t, &runcoptions.Options{ShimCgroup: "/pods/a"}))
	if err != nil {
		t.Fatal(err)
	}
	legacyFile, err := proto.Marshal(anyOf(t, &runtimeoptions.Options{ConfigPath: "/etc/runcage/shim.toml"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		data       []byte
		cgroup     string
		socketDir  string
		options    int
		wantErrSub string
	}{
		{name: "nothing (containerd 1.6 without options)"},
		{name: "1.7 runc options", data: legacy, cgroup: "/pods/a", options: 1},
		{name: "1.7 runtimeoptions", data: legacyFile, options: 1},
		{name: "2.x no options", data: bootstrapParams(t, "")},
		{name: "2.x runc options", data: bootstrapParams(t, "", &runcoptions.Options{ShimCgroup: "/pods/b"}), cgroup: "/pods/b", options: 1},
		{name: "2.x runtimeoptions and socket_dir", data: bootstrapParams(t, "/run/ctrd/s", &runtimeoptions.Options{ConfigPath: "/x.toml"}),
			socketDir: "/run/ctrd/s", options: 1},
		{name: "2.x relative socket_dir", data: bootstrapParams(t, "s"), wantErrSub: "not an absolute path"},
		{name: "truncated", data: legacy[:len(legacy)-3], wantErrSub: "start input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := decodeStartInput(tc.data)
			if tc.wantErrSub != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrSub) {
					t.Fatalf("decodeStartInput: %v, want an error with %q", err, tc.wantErrSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cg, err := in.ShimCgroup()
			if err != nil {
				t.Fatal(err)
			}
			if cg != tc.cgroup || in.SocketDir != tc.socketDir || len(in.Options) != tc.options {
				t.Errorf("decodeStartInput: cgroup %q, socket dir %q, %d options; want %q, %q, %d",
					cg, in.SocketDir, len(in.Options), tc.cgroup, tc.socketDir, tc.options)
			}
		})
	}
}

// TestDecodeStartInputCaptured decodes what real containerd daemons sent
// on `start`'s standard input for `ctr run --runtime /abs/shim
// --runtime-config-path /tmp/compat/cap/opts.toml`, captured by a stand-in
// shim: containerd 1.7.35 (1.6.20 sent the same bytes) sends the options
// alone, 2.4.2 BootstrapParams with them and socket_dir.
func TestDecodeStartInputCaptured(t *testing.T) {
	for _, tc := range []struct{ file, socketDir string }{
		{"start-stdin-containerd-1.7.35.bin", ""},
		{"start-stdin-containerd-2.4.2.bin", "/run/containerd/s"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			in, err := decodeStartInput(data)
			if err != nil {
				t.Fatal(err)
			}
			if in.SocketDir != tc.socketDir || len(in.Options) != 1 {
				t.Fatalf("socket dir %q, %d options; want %q and 1", in.SocketDir, len(in.Options), tc.socketDir)
			}
			v, err := typeurl.UnmarshalAny(in.Options[0])
			if err != nil {
				t.Fatal(err)
			}
			if o, ok := v.(*runtimeoptions.Options); !ok || o.ConfigPath != "/tmp/compat/cap/opts.toml" {
				t.Errorf("options %#v, want runtimeoptions.Options with ConfigPath /tmp/compat/cap/opts.toml", v)
			}
			if cg, err := in.ShimCgroup(); cg != "" || err != nil {
				t.Errorf("ShimCgroup of runtimeoptions: %q, %v; want none", cg, err)
			}
		})
	}
}
