package shim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sync"
	"syscall"

	"github.com/containerd/console"
	"github.com/containerd/fifo"
)

// platform copies a terminal's I/O for pkg/process (stdio.Platform): one
// epoll loop serves every console of the shim. Terminal output goes to a
// FIFO; a logging binary or file (binary://, file://) is not supported
// with a terminal (it is without one: pkg/process handles those).
type platform struct {
	epoller *console.Epoller
}

func newPlatform() (*platform, error) {
	ep, err := console.NewEpoller()
	if err != nil {
		return nil, fmt.Errorf("console epoller: %w", err)
	}
	go ep.Wait()
	return &platform{epoller: ep}, nil
}

// CopyConsole copies stdin (a FIFO, if set) to the console and the
// console to stdout; wg is done when the output copy ends.
func (p *platform) CopyConsole(ctx context.Context, c console.Console, id, stdin, stdout, stderr string, wg *sync.WaitGroup) (console.Console, error) {
	if u, err := url.Parse(stdout); err == nil && u.Scheme != "" {
		return nil, fmt.Errorf("terminal output to a %s:// URI: the runcage shim takes only a FIFO with a terminal", u.Scheme)
	}
	ec, err := p.epoller.Add(c)
	if err != nil {
		return nil, err
	}
	if stdin != "" {
		in, err := fifo.OpenFifo(context.Background(), stdin, syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			return nil, err
		}
		go func() {
			io.Copy(ec, in)
			// stdin closed: tell the terminal, as a user's ^D would.
			ec.Shutdown(p.epoller.CloseConsole)
			ec.Close()
			in.Close()
		}()
	}
	outw, err := fifo.OpenFifo(ctx, stdout, syscall.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	// Held open so the writer never sees EPIPE while the client reopens.
	outr, err := fifo.OpenFifo(ctx, stdout, syscall.O_RDONLY, 0)
	if err != nil {
		outw.Close()
		return nil, err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		io.Copy(outw, ec)
		outw.Close()
		outr.Close()
	}()
	return ec, nil
}

// ShutdownConsole stops a console CopyConsole returned.
func (p *platform) ShutdownConsole(ctx context.Context, c console.Console) error {
	ec, ok := c.(*console.EpollConsole)
	if !ok {
		return errors.New("not a console of this shim")
	}
	return ec.Shutdown(p.epoller.CloseConsole)
}

// Close stops the epoll loop.
func (p *platform) Close() error { return p.epoller.Close() }
