// Command etcd is etcd's own server entry point, built as a standalone module.
//
// etcd's server/go.mod carries relative replace directives, so `go install` of its
// main package is refused; importing etcdmain from a wrapper module is the supported
// way to build a pinned etcd from the module proxy.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
