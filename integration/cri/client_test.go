//go:build integration

package cri

import (
	"context"
	"fmt"
	"net"
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

// criClient is the kubelet's view of containerd: the CRI v1 runtime and
// image services over containerd's unix socket.
type criClient struct {
	conn *grpc.ClientConn
	rt   cri.RuntimeServiceClient
	img  cri.ImageServiceClient
}

func dialCRI(socket string) (*criClient, error) {
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
	c := &criClient{conn: conn, rt: cri.NewRuntimeServiceClient(conn), img: cri.NewImageServiceClient(conn)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.rt.Version(ctx, &cri.VersionRequest{Version: "v1"}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("cri version: %w", err)
	}
	return c, nil
}

// ctx returns a context for one CRI call, bounded like the kubelet's
// default runtime request timeout (2 minutes).
func ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*time.Minute)
}
