// Command deb builds mapgate's Debian package with nfpm
// (github.com/goreleaser/nfpm/v2) from packaging/nfpm.yaml. `make deb` runs
// it; see the Makefile for the files it expects.
//
// It is a module of its own so that nfpm and its dependencies (git, crypto,
// archive code) never enter mapgate's module graph, go.sum or binary: the
// daemon links none of it, and `go test ./...` at the top does not build it.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
)

func main() {
	config := flag.String("config", "packaging/nfpm.yaml", "nfpm configuration; paths in it are relative to the working directory")
	out := flag.String("out", "", "the .deb to write")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: deb -config packaging/nfpm.yaml -out FILE.deb  (${VAR} in the configuration come from the environment)")
		os.Exit(2)
	}
	if err := build(*config, *out); err != nil {
		fmt.Fprintln(os.Stderr, "deb:", err)
		os.Exit(1)
	}
}

func build(config, out string) error {
	cfg, err := nfpm.ParseFileWithEnvMapping(config, func(k string) string {
		v, ok := os.LookupEnv(k)
		if !ok && strings.HasPrefix(k, "DEB_") {
			fmt.Fprintf(os.Stderr, "deb: %s: ${%s} is not set\n", config, k)
		}
		return v
	})
	if err != nil {
		return err
	}
	info, err := cfg.Get("deb")
	if err != nil {
		return err
	}
	info = nfpm.WithDefaults(info)
	if err := nfpm.Validate(info); err != nil {
		return err
	}
	pkgr, err := nfpm.Get("deb")
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := pkgr.Package(info, f); err != nil {
		f.Close()
		os.Remove(out)
		return err
	}
	return f.Close()
}
