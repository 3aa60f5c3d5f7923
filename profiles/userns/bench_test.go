package userns

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The benchmarks measure what a container create pays. Run them with
//
//	go test -run '^$' -bench . -benchtime 200x ./profiles/userns/
//
// ns/op is the cost of the call alone; detaching or unmounting afterwards
// (the delete path) is reported as a separate metric. BenchmarkIDMappedBind
// shows that the cost does not depend on the number of files under the
// source.

func BenchmarkNewUsernsFD(b *testing.B) {
	requireRoot(b)
	maps := testRange.Mappings()
	for b.Loop() {
		ns, err := NewUsernsFD(maps, maps)
		if err != nil {
			b.Fatal(err)
		}
		ns.Close()
	}
}

// makeTree fills dir with n files spread over directories of 1000.
func makeTree(b *testing.B, dir string, n int) {
	b.Helper()
	for i := range n {
		sub := filepath.Join(dir, fmt.Sprintf("d%03d", i/1000))
		if i%1000 == 0 {
			mkdirs(b, sub)
		}
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%05d", i)), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIDMappedBind(b *testing.B) {
	requireRoot(b)
	for _, n := range []int{10, 20000} {
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) {
			dir := tempDir(b)
			src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
			mkdirs(b, src, dst)
			makeTree(b, src, n)
			ns := newNS(b, testRange)
			var detach time.Duration
			for b.Loop() {
				if err := IDMappedBind(src, dst, ns); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				t0 := time.Now()
				if err := unix.Unmount(dst, unix.MNT_DETACH); err != nil {
					b.Fatal(err)
				}
				detach += time.Since(t0)
				b.StartTimer()
			}
			b.ReportMetric(float64(detach.Nanoseconds())/float64(b.N), "detach-ns/op")
		})
	}
}

// BenchmarkMountIDMappedOverlay mounts the id-mapped overlay of a
// three-layer image (10 files, then 20000) and reports Unmount separately.
func BenchmarkMountIDMappedOverlay(b *testing.B) {
	requireRoot(b)
	for _, n := range []int{10, 20000} {
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) {
			dir := tempDir(b)
			var layers []string
			for i := range 3 {
				l := filepath.Join(dir, fmt.Sprintf("layer-%d", i))
				mkdirs(b, l)
				makeTree(b, l, n/3)
				layers = append(layers, l)
			}
			rootfs := filepath.Join(dir, "rootfs")
			ns := newNS(b, testRange)
			var unmount time.Duration
			for b.Loop() {
				b.StopTimer()
				mkdirs(b, rootfs)
				b.StartTimer()
				cleanup, err := MountIDMappedOverlay(Overlay{Lower: layers}, rootfs, filepath.Join(dir, "state"), testRange, ns)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				t0 := time.Now()
				if err := Unmount(cleanup); err != nil {
					b.Fatal(err)
				}
				unmount += time.Since(t0)
				b.StartTimer()
			}
			b.ReportMetric(float64(unmount.Nanoseconds())/float64(b.N), "unmount-ns/op")
		})
	}
}
