//go:build integration

// Command gosrv is the static Go HTTP server of the workloads suite
// (integration/workloads): it is built with CGO_ENABLED=0, copied into the
// container and serves the files under -root (large ones with sendfile,
// through net/http's FileServer) and /hello. It stops on SIGTERM, which a
// process running as a pid namespace's init otherwise ignores.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	root := flag.String("root", "/srv/www", "directory to serve")
	flag.Parse()

	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from gosrv\n")
	})
	mux.Handle("/files/", http.StripPrefix("/files/", http.FileServer(http.Dir(*root))))
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	log.Printf("gosrv: listening on %s, serving %s", *addr, *root)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Printf("gosrv: %v", err)
		os.Exit(1)
	}
	log.Printf("gosrv: stopped")
}
