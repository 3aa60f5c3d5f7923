//go:build integration

package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	cri "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// gogoCodec marshals the CRI messages with their own generated (gogo)
// Marshal and Unmarshal methods, byte for byte what the kubelet of the
// same cri-api release sends, rather than through grpc's reflection-based
// adapter for legacy messages.
type gogoCodec struct{}

type gogoMessage interface {
	Marshal() ([]byte, error)
	Unmarshal([]byte) error
}

func (gogoCodec) Marshal(v any) ([]byte, error) {
	m, ok := v.(gogoMessage)
	if !ok {
		return nil, fmt.Errorf("gogo codec: %T is not a gogo message", v)
	}
	return m.Marshal()
}

func (gogoCodec) Unmarshal(data []byte, v any) error {
	m, ok := v.(gogoMessage)
	if !ok {
		return fmt.Errorf("gogo codec: %T is not a gogo message", v)
	}
	return m.Unmarshal(data)
}

func (gogoCodec) Name() string { return "proto" }

var _ encoding.Codec = gogoCodec{}

// CRIClient is the kubelet's view of containerd: the CRI v1 runtime and
// image services over containerd's unix socket.
type CRIClient struct {
	Conn    *grpc.ClientConn
	Runtime cri.RuntimeServiceClient
	Image   cri.ImageServiceClient
}

// DialCRI connects to the CRI on socket and checks it answers Version.
func DialCRI(socket string) (*CRIClient, error) {
	conn, err := grpc.NewClient("passthrough:///"+socket,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(gogoCodec{}), grpc.MaxCallRecvMsgSize(16<<20)),
	)
	if err != nil {
		return nil, fmt.Errorf("dial cri: %w", err)
	}
	c := &CRIClient{Conn: conn, Runtime: cri.NewRuntimeServiceClient(conn), Image: cri.NewImageServiceClient(conn)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Runtime.Version(ctx, &cri.VersionRequest{Version: "v1"}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("cri version: %w", err)
	}
	return c, nil
}

// WaitImages waits up to 30 s until the CRI lists every image of refs:
// it learns about images imported with ctr through containerd's events.
func (c *CRIClient) WaitImages(refs ...string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		resp, err := c.Image.ListImages(ctx, &cri.ListImagesRequest{})
		cancel()
		if err != nil {
			return fmt.Errorf("list images: %w", err)
		}
		have := map[string]bool{}
		var tags []string
		for _, img := range resp.Images {
			for _, t := range img.RepoTags {
				have[t] = true
				tags = append(tags, t)
			}
		}
		missing := false
		for _, r := range refs {
			missing = missing || !have[r]
		}
		if !missing {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the CRI does not list the imported images after 30s: %q", tags)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// PauseArchive builds the CRI's pause image, ref, as an OCI archive in
// WorkDir: the static pause program (BuildPause) alone as /pause, its
// entrypoint. It returns the archive's path.
func (e *Engine) PauseArchive(ref string) (string, error) {
	pause := filepath.Join(e.WorkDir, "pause")
	if err := BuildPause(pause); err != nil {
		return "", err
	}
	dir := filepath.Join(e.WorkDir, "pause-image")
	for _, d := range []string{"", "dev", "proc", "sys", "etc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return "", err
		}
	}
	b, err := os.ReadFile(pause)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "pause"), b, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(e.WorkDir, "pause.tar")
	if err := WriteOCIArchive(out, OCIImage{Name: ref, Rootfs: dir, Entrypoint: []string{"/pause"}}); err != nil {
		return "", err
	}
	return out, nil
}

// AddRuncHandlers appends CRI runtime handlers to the containerd main
// config at path, written by WriteConfig: each name runs containerd's runc
// shim with its binary (runcage, a runcage-<profile> link, or runc) as the
// runc binary, and passes runcage.dev/* pod annotations, as `runcage
// install containerd --shim=false` registers runcage.
func AddRuncHandlers(path string, binaries map[string]string) error {
	names := make([]string, 0, len(binaries))
	for n := range binaries {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		table := `plugins."io.containerd.grpc.v1.cri".containerd.runtimes.` + name
		fmt.Fprintf(&b, "\n[%s]\n  runtime_type = \"io.containerd.runc.v2\"\n  pod_annotations = [\"runcage.dev/*\"]\n", table)
		fmt.Fprintf(&b, "  [%s.options]\n    BinaryName = %q\n", table, binaries[name])
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("add runc handlers: %w", err)
	}
	_, werr := f.WriteString(b.String())
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("add runc handlers: %w", werr)
	}
	return nil
}
