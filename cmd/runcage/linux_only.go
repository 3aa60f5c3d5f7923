//go:build !linux

// runcage builds and runs on Linux only, and its files carry no _linux
// suffix: any file may use Linux-only calls. On another OS this import
// fails while the go command loads the packages, before it compiles any,
// so the build stops with this one line instead of the undefined names
// of every package below. (An undefined name here would come too late:
// main is compiled after the packages it imports.)

package main

import _ "github.com/runcage/runcage/cmd/runcage/linuxonly"
