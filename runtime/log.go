package runtime

import (
	"fmt"
	"io"
	"os"

	"github.com/sirupsen/logrus"
)

// logger writes runcage's own messages where the caller of runc looks for
// them: the --log file, in the --log-format runc would use, and stderr for
// errors. Info-level output is off unless --debug is given, so routine
// invocations (state, exec probes) never grow the log.
type logger struct {
	l      *logrus.Logger
	closer io.Closer
	toFile bool
	// stderr is where errors (and, with --debug and no --log, debug
	// lines) go: the process's stderr, or the caller's when the warm front
	// serves it.
	stderr io.Writer
}

// newLogger opens the --log file for appending (creating it 0644 as runc
// does) and selects the format. A log file that cannot be opened is not
// fatal: messages still reach stderr.
func newLogger(g GlobalFlags) *logger { return newLoggerTo(g, os.Stderr) }

// newLoggerTo is newLogger with stderr as the standard error stream.
func newLoggerTo(g GlobalFlags, stderr io.Writer) *logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	l.SetLevel(logrus.WarnLevel)
	if g.Debug {
		l.SetLevel(logrus.DebugLevel)
	}
	if g.LogFormat == "json" {
		l.SetFormatter(&logrus.JSONFormatter{})
	} else {
		l.SetFormatter(&logrus.TextFormatter{DisableColors: true, FullTimestamp: true})
	}
	lg := &logger{l: l, stderr: stderr}
	if g.Log != "" {
		f, err := os.OpenFile(g.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err == nil {
			l.SetOutput(f)
			lg.closer, lg.toFile = f, true
		} else {
			fmt.Fprintf(stderr, "runcage: open log file: %v\n", err)
		}
	} else if g.Debug {
		l.SetOutput(stderr)
	}
	return lg
}

// errorf logs one error line, "runcage: <msg>", to the log file and prints
// it to stderr.
func (lg *logger) errorf(format string, args ...any) {
	msg := "runcage: " + fmt.Sprintf(format, args...)
	if lg.toFile {
		lg.l.Error(msg)
	}
	fmt.Fprintln(lg.stderr, msg)
}

// warnf logs one warning line, "runcage: warning: <msg>", to the log
// file, or to stderr when there is none (a container's stderr may be its
// caller's terminal: it gets the line only if no log file takes it).
func (lg *logger) warnf(format string, args ...any) {
	msg := "runcage: warning: " + fmt.Sprintf(format, args...)
	if lg.toFile {
		lg.l.Warn(msg)
		return
	}
	fmt.Fprintln(lg.stderr, msg)
}

// debugf logs at debug level; it is silent unless --debug was given.
func (lg *logger) debugf(format string, args ...any) {
	lg.l.Debugf("runcage: "+format, args...)
}

func (lg *logger) close() {
	if lg.closer != nil {
		_ = lg.closer.Close()
	}
}
