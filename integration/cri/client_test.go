//go:build integration

package cri

import (
	"context"
	"time"
)

// ctx returns a context for one CRI call, bounded like the kubelet's
// default runtime request timeout (2 minutes).
func ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*time.Minute)
}
