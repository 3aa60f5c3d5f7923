//go:build integration

package workloads

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/integration"
	"github.com/runcage/runcage/profiles/seccomp"
)

// maxServerSyscalls is the goal for the profile a server's short
// exercise generates.
const maxServerSyscalls = 130

// fullRuns is how many times the full exercise must pass under the
// profile generated from the short one.
const fullRuns = 5

// workload is one server of the suite.
type workload struct {
	// Name names the workload, its recording and its profile.
	Name string
	// Kind says what sort of program it is, for the report.
	Kind string
	// Layout builds the container (the rootfs and the files are filled in
	// by TestWorkloads).
	Layout func(t *testing.T) layout
	// Ready waits until the server serves.
	Ready func(b *box) error
	// Short is the exercise recorded: start and one request.
	Short exercise
	// Full is the exercise the generated profile must pass.
	Full exercise
	// StopSignal is the signal that stops the server gracefully ("TERM"
	// when empty), as an image's STOPSIGNAL.
	StopSignal string
	// Stopped checks what the server left after StopSignal stopped it.
	Stopped func(b *box) error
	// Log is the server's log inside the container, shown on failure.
	Log string
	// AboveGoal says why the profile generated from the short exercise
	// may allow more than maxServerSyscalls (the goal for a server); empty
	// if it may not. Every profile must allow less than half of
	// runtime/default.
	AboveGoal string
}

// exercise is one named client run against a server.
type exercise struct {
	Name string
	Run  func(b *box) error
}

// TestWorkloads records each workload under the record profile while its
// short exercise runs, generates a profile from that trace alone, and then
// runs the full exercise under the generated, enforced profile fullRuns
// times; every run must pass. The generated profile must allow less than
// half of runtime/default, and at most maxServerSyscalls unless the
// workload says why not (AboveGoal); the test logs what the analysis
// added, from which object, and the objects recorded. Then the full exercise is recorded once
// under record, and the test names the syscalls and capabilities it uses
// beyond the generated profile (on a failure: what
// was denied) and beyond the one `generate --recorded-only` makes from the
// same trace (what the analysis of the recorded programs contributed).
//
// The workloads and their exercises:
//
//   - MariaDB (mariadbd, a database started as root that switches to the
//     mysql user): short: SELECT VERSION(); full: create a table, insert
//     10,000 rows, flush it to disk (FLUSH TABLES ... FOR EXPORT), read
//     all rows back, aggregate, sort and group beyond memory, add an
//     index, rebuild the table, 4 concurrent clients inserting and
//     updating, and a clean shutdown on SIGTERM.
//   - HAProxy (an event-driven C proxy started as root on port 80 that
//     switches to the haproxy user): short: one proxied GET;
//     full: 20 proxied GETs on one connection, a 24 MiB response, 64
//     concurrent connections and a health answer of its own.
//   - Perl (an HTTP::Daemon web app running as www-data): short: GET
//     /hello and one small file; full: upload 8 MiB, download it back and its SHA-256 (from
//     Digest::SHA, an XS module), a 24 MiB file, 20 small requests.
//   - Go (a static CGO_ENABLED=0 net/http server running as nobody):
//     short: GET /hello and one small file; full: a 24 MiB file (sendfile), a range request,
//     and 200 requests over 100 concurrent connections.
func TestWorkloads(t *testing.T) {
	root, err := workloadsRootfs()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var report strings.Builder
	for _, w := range workloads() {
		t.Run(w.Name, func(t *testing.T) {
			t.Logf("%s: %s; short exercise: %s; full exercise: %s", w.Name, w.Kind, w.Short.Name, w.Full.Name)
			wstart := time.Now()
			res := runWorkload(t, w, root)
			t.Logf("%s took %v", w.Name, time.Since(wstart).Round(time.Second))
			fmt.Fprintf(&report, "\n  %-8s %s", w.Name, res)
		})
	}
	t.Logf("workloads, %d full runs each (%v in all):%s", fullRuns, time.Since(start).Round(time.Second), report.String())
}

// runWorkload is the flow of TestWorkloads for one workload. It returns a
// line for the report.
func runWorkload(t *testing.T, w workload, root string) string {
	l := newLab(t, "")
	lay := w.Layout(t)
	lay.Lower = root
	name := strings.ToLower(w.Name)
	gen, recOnly := name+"-gen", name+"-recorded"

	// 1. Record the short exercise, and generate from that trace alone:
	// the profile under test, and for the report the same with
	// --recorded-only.
	lay.Recording = name + "-short"
	phase := time.Now()
	b := l.start("record", "record", lay)
	if err := run(b, w, w.Short); err != nil {
		t.Fatalf("%s under record, short exercise %q: %v\n%s log:\n%s", w.Name, w.Short.Name, err, w.Name, tail(b.file(w.Log), 20))
	}
	tr := l.Trace(lay.Recording)
	t.Logf("recorded %q in %v: %d syscalls, capabilities %v", w.Short.Name, time.Since(phase).Round(time.Millisecond), len(tr.SyscallNames()), tr.Capabilities)
	l.generate(gen, lay.Recording)
	l.generate(recOnly, lay.Recording, "--recorded-only")
	genSys, _ := l.installed(gen)
	recSys, _ := l.installed(recOnly)
	res := fmt.Sprintf("profile %d syscalls (recorded only: %d)", len(genSys), len(recSys))
	if def := len(seccomp.AllowedSyscalls(seccomp.Default())); 2*len(genSys) >= def {
		t.Errorf("%s: the generated profile allows %d syscalls: want less than half of runtime/default's %d", w.Name, len(genSys), def)
	}
	if len(genSys) > maxServerSyscalls {
		if w.AboveGoal == "" {
			t.Errorf("%s: the generated profile allows %d syscalls: want at most %d", w.Name, len(genSys), maxServerSyscalls)
		} else {
			t.Logf("%s: %d syscalls, above the goal of %d: %s", w.Name, len(genSys), maxServerSyscalls, w.AboveGoal)
		}
	}
	reasons := l.reasons(gen)
	var added []string
	for _, s := range genSys {
		if !slices.Contains(recSys, s) {
			added = append(added, s+" ("+reasons[s]+")")
		}
	}
	t.Logf("added by analysis, with the first function found making each: %s", strings.Join(added, ", "))
	var objs []string
	for _, o := range tr.Objects {
		objs = append(objs, o.Path+" ("+o.Analysis+": "+o.Note+")")
	}
	t.Logf("objects the short exercise mapped: %s", strings.Join(objs, "; "))

	// 2. The full exercise under the generated profile, fullRuns times.
	short := lay.Recording
	lay.Recording = ""
	passed := 0
	for i := 1; i <= fullRuns; i++ {
		phase = time.Now()
		b := l.start(gen, fmt.Sprintf("full%d", i), lay)
		if err := run(b, w, w.Full); err != nil {
			t.Errorf("%s: full exercise %q, run %d/%d under the generated profile %s, failed: %v\n%s log:\n%s",
				w.Name, w.Full.Name, i, fullRuns, gen, err, w.Name, tail(b.file(w.Log), 15))
			break
		}
		passed++
		t.Logf("full run %d/%d under %s passed in %v", i, fullRuns, gen, time.Since(phase).Round(time.Millisecond))
	}
	res = fmt.Sprintf("%d/%d full runs passed; %s", passed, fullRuns, res)

	// 3. Record the full exercise once, and name what it uses beyond each
	// profile generated from the short one: on a failure, what the
	// generated profile denied; otherwise what the analysis added that
	// the full exercise needed.
	lay.Recording = name + "-full"
	b = l.start("record", "full-record", lay)
	if err := run(b, w, w.Full); err != nil {
		t.Errorf("%s: the full exercise fails under record too: %v\n%s log:\n%s", w.Name, err, w.Name, tail(b.file(w.Log), 15))
		return res + "; the full exercise fails under record too"
	}
	full := l.Trace(lay.Recording)
	t.Logf("the full exercise uses %d syscalls (the short one %d)", len(full.SyscallNames()), len(tr.SyscallNames()))
	for _, p := range []string{gen, recOnly} {
		line := fmt.Sprintf("beyond %s: %s", p, orNone(l.beyond(p, full)))
		res += "; " + line
		if p == gen && passed < fullRuns {
			t.Errorf("%s: the full exercise under record uses, %s (recorded from %s)", w.Name, line, short)
		}
	}
	return res
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, " ")
}

// run starts nothing: it waits for b's server, runs ex against it, stops
// the container with its StopSignal and checks what the server left.
func run(b *box, w workload, ex exercise) error {
	err := w.Ready(b)
	if err == nil {
		err = ex.Run(b)
	}
	stopErr := b.stop(w.StopSignal, 30*time.Second)
	if err != nil {
		return err
	}
	if stopErr != nil {
		return stopErr
	}
	if w.Stopped != nil {
		return w.Stopped(b)
	}
	return nil
}

var (
	rootfsOnce sync.Once
	rootfsPath string
	rootfsErr  error
)

// workloadsRootfs returns the root filesystem integration/rootfs/workloads.sh
// builds (once, then cached).
func workloadsRootfs() (string, error) {
	rootfsOnce.Do(func() {
		root, err := integration.RepoRoot()
		if err != nil {
			rootfsErr = err
			return
		}
		cmd := exec.Command(filepath.Join(root, "integration", "rootfs", "workloads.sh"))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			rootfsErr = fmt.Errorf("workloads rootfs: %w", err)
			return
		}
		rootfsPath = strings.TrimSpace(string(out))
		for _, p := range []string{"usr/sbin/mariadbd", "usr/sbin/haproxy", "usr/bin/perl", "usr/share/perl5/HTTP/Daemon.pm"} {
			if st, err := os.Stat(filepath.Join(rootfsPath, p)); err != nil || !st.Mode().IsRegular() {
				rootfsErr = fmt.Errorf("workloads rootfs %s has no %s: %v", rootfsPath, p, err)
				return
			}
		}
	})
	return rootfsPath, rootfsErr
}

const (
	mib       = 1 << 20
	serverLog = "/tmp/workload.log"
)

var (
	small = []byte("runcage workloads: a small file\n")
	large = payload(24*mib, 1)
)

// shell is the container process: sh runs script, which ends by exec'ing
// the server with its output in serverLog.
func shell(script string) []string { return []string{"/bin/sh", "-c", script} }

func workloads() []workload {
	return []workload{mariaDB(), haProxy(), perlApp(), goServer()}
}

func mariaDB() workload {
	sql := func(b *box, query string) (string, error) {
		return b.exec(45*time.Second, "mariadb", "-N", "-B", "-e", query)
	}
	expect := func(b *box, query, want string) error {
		out, err := sql(b, query)
		if err != nil {
			return err
		}
		if got := strings.TrimSpace(out); got != want {
			return fmt.Errorf("%s: got %q, want %q", query, tail(got, 3), want)
		}
		return nil
	}
	return workload{
		Name: "MariaDB",
		Kind: "database server, started as root, switches to the mysql user",
		Log:  serverLog,
		AboveGoal: "every import of the programs that ran counts (mariadbd, which exports 21,382 functions for its plugins, " +
			"mkdir, chown and dash of the start script, the mariadb client): each reaches all its imports",
		Layout: func(*testing.T) layout {
			return layout{Caps: integration.DockerDefaultCaps, Args: shell(
				"mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld && " +
					"exec mariadbd --user=mysql --skip-name-resolve --bind-address=127.0.0.1 --port=3306 " +
					"--innodb-buffer-pool-size=64M --log-error=" + serverLog)}
		},
		Ready: func(b *box) error {
			return integration.WaitFor(60*time.Second, func() error {
				if !strings.Contains(b.file(serverLog), "ready for connections") {
					return fmt.Errorf("mariadbd is not ready: %s", tail(b.file(serverLog), 3))
				}
				return nil
			})
		},
		Short: exercise{"SELECT VERSION()", func(b *box) error {
			out, err := sql(b, "SELECT VERSION()")
			if err == nil && !strings.Contains(out, "MariaDB") {
				err = fmt.Errorf("SELECT VERSION() = %q", out)
			}
			return err
		}},
		Full: exercise{"table, 10k rows, flush, full scan, aggregate, on-disk sort and temporary table, index build, rebuild, 4 concurrent clients, shutdown", func(b *box) error {
			if _, err := sql(b, "CREATE DATABASE w; USE w; CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(200), n INT, KEY (n)) ENGINE=InnoDB; "+
				"INSERT INTO t SELECT seq, REPEAT(MD5(seq), 4), seq % 97 FROM seq_1_to_10000"); err != nil {
				return err
			}
			if _, err := sql(b, "FLUSH TABLES w.t FOR EXPORT; UNLOCK TABLES; SET GLOBAL innodb_max_dirty_pages_pct = 0"); err != nil {
				return err
			}
			if err := expect(b, "SELECT COUNT(*), SUM(LENGTH(v)) FROM (SELECT * FROM w.t ORDER BY v) AS s", "10000\t1280000"); err != nil {
				return err
			}
			out, err := sql(b, "SELECT * FROM w.t")
			if err != nil {
				return err
			}
			if n := strings.Count(out, "\n"); n != 10000 {
				return fmt.Errorf("SELECT * FROM w.t: %d rows, want 10000", n)
			}
			if err := expect(b, "SELECT COUNT(*) FROM (SELECT n, COUNT(*) FROM w.t GROUP BY n) AS g", "97"); err != nil {
				return err
			}
			// What spills to disk: a sort larger than its buffer (merge
			// files), a temporary table larger than memory (Aria), an
			// index build and a table rebuild (new tablespace, rename).
			if err := expect(b, "SET SESSION sort_buffer_size = 32768; SELECT COUNT(*) FROM (SELECT v FROM w.t ORDER BY v DESC, id LIMIT 9000) AS s", "9000"); err != nil {
				return err
			}
			if err := expect(b, "SET SESSION tmp_table_size = 16384, max_heap_table_size = 16384; SELECT COUNT(*) FROM (SELECT v, COUNT(*) FROM w.t GROUP BY v) AS g", "10000"); err != nil {
				return err
			}
			if _, err := sql(b, "ALTER TABLE w.t ADD INDEX iv (v); OPTIMIZE TABLE w.t"); err != nil {
				return err
			}
			// Four clients at once (four `runc exec`s, not a shell's
			// background jobs: dash's `wait` needs rt_sigsuspend, which
			// would test the shell), each inserting 500 rows and
			// updating a range of its own in a transaction. The ranges
			// are not adjacent, so that no client's next-key lock takes a
			// row another one updates (which could deadlock).
			errs := make(chan error, 4)
			for i := 1; i <= 4; i++ {
				lo, hi := mariaDBRange(i)
				go func() {
					_, err := sql(b, fmt.Sprintf("USE w; BEGIN; INSERT INTO t SELECT %d + seq, 'c', %d FROM seq_1_to_500; "+
						"UPDATE t SET n = n + 1 WHERE id BETWEEN %d AND %d; SELECT SLEEP(0.2); COMMIT", 10000+i*1000, i, lo, hi))
					errs <- err
				}()
			}
			for range 4 {
				if err := <-errs; err != nil {
					return fmt.Errorf("concurrent client: %w", err)
				}
			}
			return expect(b, "SELECT COUNT(*), SUM(n) FROM w.t", "12000\t"+strconv.Itoa(mariaDBSum()))
		}},
		Stopped: func(b *box) error {
			if log := b.file(serverLog); !strings.Contains(log, "Shutdown complete") {
				return fmt.Errorf("mariadbd did not shut down cleanly:\n%s", tail(log, 10))
			}
			return nil
		},
	}
}

// mariaDBRange is the range of ids client i (1 to 4) of MariaDB's full
// exercise updates.
func mariaDBRange(i int) (lo, hi int) { return (i-1)*2500 + 2, i*2500 - 1 }

// mariaDBSum is SUM(n) after MariaDB's full exercise: seq % 97 over
// 1..10000, plus one for each row a client updated, plus i for each of the
// 500 rows client i inserted.
func mariaDBSum() int {
	s := 0
	for id := 1; id <= 10000; id++ {
		s += id % 97
	}
	for i := 1; i <= 4; i++ {
		lo, hi := mariaDBRange(i)
		s += hi - lo + 1 + 500*i
	}
	return s
}

// haproxyCfg has no chroot directive (Debian's own configuration has
// one): runtime/default denies chroot(2) whatever the capabilities, and
// so do record and the profiles generated from it, unless --allow-dangerous
// (see docs/recording.md, "Workloads that need a capability").
const haproxyCfg = `global
	user haproxy
	group haproxy
	maxconn 256
defaults
	mode http
	timeout connect 5s
	timeout client 60s
	timeout server 60s
frontend web
	bind 127.0.0.1:80
	http-request return status 200 content-type text/plain string "haproxy ok" if { path /health }
	default_backend files
backend files
	server b1 127.0.0.1:8081
`

func haProxy() workload {
	var backends sync.Map // container id -> *exec.Cmd
	return workload{
		Name: "HAProxy",
		Kind: "C event-driven proxy, started as root on port 80, switches to the haproxy user",
		Log:  serverLog,
		// SIGUSR1 is HAProxy's soft stop, the official image's
		// STOPSIGNAL. Here SIGTERM did not stop it within 30 s, under
		// record as under the generated profile.
		StopSignal: "USR1",
		Layout: func(t *testing.T) layout {
			return layout{Caps: integration.DockerDefaultCaps,
				Files: map[string][]byte{"/etc/haproxy/runcage.cfg": []byte(haproxyCfg)},
				Args:  shell("exec haproxy -db -f /etc/haproxy/runcage.cfg >" + serverLog + " 2>&1")}
		},
		Ready: func(b *box) error {
			// The backend: the host's busybox httpd in the container's
			// network namespace, serving files the test wrote.
			www := filepath.Join(b.l.Dir, "backend-"+b.id)
			if err := os.MkdirAll(www, 0o755); err != nil {
				return err
			}
			for name, content := range map[string][]byte{"small.txt": small, "large.bin": large} {
				if err := os.WriteFile(filepath.Join(www, name), content, 0o644); err != nil {
					return err
				}
			}
			cmd := integration.InNetns(b.pid, integration.HostBusybox, "httpd", "-f", "-p", "127.0.0.1:8081", "-h", www)
			if err := cmd.Start(); err != nil {
				return fmt.Errorf("start backend: %w", err)
			}
			backends.Store(b.id, cmd)
			b.l.T.Cleanup(func() {
				cmd.Process.Kill()
				cmd.Wait()
			})
			return b.waitGet("http://127.0.0.1/health", []byte("haproxy ok"))
		},
		Short: exercise{"one proxied GET", func(b *box) error {
			return b.get("http://127.0.0.1/small.txt", small)
		}},
		Full: exercise{"20 GETs on one connection, 24 MiB response, 64 concurrent connections", func(b *box) error {
			var urls []string
			for range 20 {
				urls = append(urls, "http://127.0.0.1/small.txt")
			}
			if err := getMany(b, nil, urls, small); err != nil {
				return err
			}
			if err := b.get("http://127.0.0.1/large.bin", large); err != nil {
				return err
			}
			urls = urls[:0]
			for range 64 {
				urls = append(urls, "http://127.0.0.1/small.txt")
			}
			if err := getMany(b, []string{"--parallel", "--parallel-immediate", "--parallel-max", "64"}, urls, small); err != nil {
				return err
			}
			return b.get("http://127.0.0.1/health", []byte("haproxy ok"))
		}},
		Stopped: func(b *box) error {
			if cmd, ok := backends.LoadAndDelete(b.id); ok {
				cmd.(*exec.Cmd).Process.Kill()
				cmd.(*exec.Cmd).Wait()
			}
			return nil
		},
	}
}

// getMany fetches every url with one curl (extra: its options for
// parallel transfers) and checks that each body is want.
func getMany(b *box, extra, urls []string, want []byte) error {
	got, err := b.curl(append(extra, urls...)...)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, bytes.Repeat(want, len(urls))) {
		return fmt.Errorf("%d GETs: %d bytes, want %d x %d", len(urls), len(got), len(urls), len(want))
	}
	return nil
}

const perlAppScript = `use strict;
use warnings;
use HTTP::Daemon;
use HTTP::Response;
use HTTP::Status qw(:constants);
use Digest::SHA qw(sha256_hex);

$SIG{TERM} = sub { print STDERR "app: stopping\n"; exit 0 };
my $uploads = "/tmp/uploads";
mkdir $uploads unless -d $uploads;
my $d = HTTP::Daemon->new(LocalAddr => "127.0.0.1", LocalPort => 8080, ReuseAddr => 1)
	or die "listen: $!";
print STDERR "app: listening on ", $d->url, "\n";
sub text { return HTTP::Response->new($_[0], undef, ["Content-Type" => "text/plain"], $_[1]) }
while (my $c = $d->accept) {
	while (my $r = $c->get_request) {
		my $p = $r->uri->path;
		if ($r->method eq "GET" && $p eq "/hello") {
			$c->send_response(text(200, "hello from perl\n"));
		} elsif ($r->method eq "GET" && $p =~ m{^/files/([\w.-]+)$}) {
			$c->send_file_response("/srv/www/$1");
		} elsif ($r->method eq "PUT" && $p =~ m{^/uploads/([\w.-]+)$}) {
			open(my $f, ">:raw", "$uploads/$1") or die "upload $1: $!";
			print $f $r->content;
			close($f) or die "upload $1: $!";
			$c->send_response(text(201, "stored $1\n"));
		} elsif ($r->method eq "GET" && $p =~ m{^/uploads/([\w.-]+)$}) {
			$c->send_file_response("$uploads/$1");
		} elsif ($r->method eq "GET" && $p =~ m{^/sha256/([\w.-]+)$}) {
			my $sha = Digest::SHA->new(256);
			$sha->addfile("$uploads/$1", "b");
			$c->send_response(text(200, $sha->hexdigest . "\n"));
		} else {
			$c->send_error(HTTP_NOT_FOUND);
		}
	}
	$c->close;
}
`

func perlApp() workload {
	hello := []byte("hello from perl\n")
	upload := payload(8*mib, 2)
	return workload{
		Name: "Perl",
		Kind: "interpreted web app (HTTP::Daemon) running as www-data",
		Log:  serverLog,
		AboveGoal: "an interpreter: every builtin is reachable from its exported op table (PL_ppaddr), " +
			"every function of a loaded XS module (POSIX, IO, Socket) from its boot_ registration; the script says which run",
		Layout: func(*testing.T) layout {
			return layout{Caps: integration.DockerDefaultCaps, User: specs.User{UID: 33, GID: 33},
				Files: map[string][]byte{"/srv/app/app.pl": []byte(perlAppScript), "/srv/www/small.txt": small, "/srv/www/large.bin": large},
				Args:  shell("exec perl /srv/app/app.pl >" + serverLog + " 2>&1")}
		},
		Ready: func(b *box) error { return b.waitGet("http://127.0.0.1:8080/hello", hello) },
		Short: exercise{"GET /hello and one small file", func(b *box) error { return getHelloAndSmall(b, hello) }},
		Full: exercise{"8 MiB upload and download, SHA-256, 24 MiB file, 20 small GETs", func(b *box) error {
			src := filepath.Join(b.l.Dir, "upload-"+b.id)
			if err := os.WriteFile(src, upload, 0o644); err != nil {
				return err
			}
			if _, err := b.curl("-T", src, "http://127.0.0.1:8080/uploads/up.bin"); err != nil {
				return err
			}
			if err := b.get("http://127.0.0.1:8080/uploads/up.bin", upload); err != nil {
				return err
			}
			if err := b.get("http://127.0.0.1:8080/sha256/up.bin", []byte(sha256Hex(upload)+"\n")); err != nil {
				return err
			}
			if err := b.get("http://127.0.0.1:8080/files/large.bin", large); err != nil {
				return err
			}
			var urls []string
			for range 20 {
				urls = append(urls, "http://127.0.0.1:8080/files/small.txt")
			}
			return getMany(b, nil, urls, small)
		}},
	}
}

func goServer() workload {
	hello := []byte("hello from gosrv\n")
	return workload{
		Name: "Go",
		Kind: "static Go binary (CGO_ENABLED=0, net/http) running as nobody",
		Log:  serverLog,
		Layout: func(t *testing.T) layout {
			srv, err := os.ReadFile(gosrv.Path(t))
			if err != nil {
				t.Fatal(err)
			}
			return layout{Caps: integration.DockerDefaultCaps, User: specs.User{UID: 65534, GID: 65534},
				Files: map[string][]byte{"/usr/local/bin/gosrv": srv, "/srv/www/small.txt": small, "/srv/www/large.bin": large},
				Args:  shell("exec /usr/local/bin/gosrv -addr 127.0.0.1:8080 -root /srv/www >" + serverLog + " 2>&1")}
		},
		Ready: func(b *box) error { return b.waitGet("http://127.0.0.1:8080/hello", hello) },
		Short: exercise{"GET /hello and one small file", func(b *box) error { return getHelloAndSmall(b, hello) }},
		Full: exercise{"24 MiB file (sendfile), range request, 200 GETs over 100 concurrent connections", func(b *box) error {
			if err := b.get("http://127.0.0.1:8080/files/large.bin", large); err != nil {
				return err
			}
			got, err := b.curl("-r", "1000000-1999999", "http://127.0.0.1:8080/files/large.bin")
			if err != nil {
				return err
			}
			if !bytes.Equal(got, large[1000000:2000000]) {
				return fmt.Errorf("range request: %d bytes, not the range", len(got))
			}
			var urls []string
			for range 200 {
				urls = append(urls, "http://127.0.0.1:8080/files/small.txt")
			}
			return getMany(b, []string{"--parallel", "--parallel-immediate", "--parallel-max", "100"}, urls, small)
		}},
	}
}

// getHelloAndSmall is the short exercise of the web apps: one request per
// route, /hello and one small file of the document root. Landlock rules
// are generated from the files a recording saw: a document root the
// recording never read gets no rule (docs/landlock.md, "Generated
// rules"), so a smoke test that is to yield a working profile serves one
// document.
func getHelloAndSmall(b *box, hello []byte) error {
	if err := b.get("http://127.0.0.1:8080/hello", hello); err != nil {
		return err
	}
	return b.get("http://127.0.0.1:8080/files/small.txt", small)
}
