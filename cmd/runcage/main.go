// Command runcage is a drop-in front for runc that hardens every container
// it starts. See the README.
package main

import (
	"os"

	"github.com/runcage/runcage/runtime"
)

func main() {
	runtime.Main(os.Args)
}
