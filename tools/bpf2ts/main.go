// Command bpf2ts is bpf2go for TypeScript: it reads a compiled BPF object with cilium/ebpf and
// writes one TypeScript module describing its programs, maps and global variables, plus an
// interface and a DataView codec for every struct that crosses the kernel boundary.
//
//	bpf2ts -object bpf/obj/tsn_core.bpf.o -out bpf/gen/tsn_core.ts
//
// Paths are meant to be repository-relative, run from the repository root: the object path is
// printed into the output, which must not depend on where the repository is checked out.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/cilium/ebpf"
)

func main() {
	object := flag.String("object", "", "compiled BPF ELF object (repository-relative path)")
	out := flag.String("out", "", "TypeScript module to write")
	nameFrom := flag.String("name-from", "",
		"repository-relative path to print as the object's path instead of -object\n"+
			"(for checks that build the object somewhere else)")
	flag.Parse()
	if *object == "" || *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: bpf2ts -object PATH -out PATH [-name-from REPO_RELATIVE_PATH]")
		os.Exit(2)
	}
	if err := run(*object, *out, *nameFrom); err != nil {
		fmt.Fprintln(os.Stderr, "bpf2ts:", err)
		os.Exit(1)
	}
}

func run(object, out, nameFrom string) error {
	name := object
	if nameFrom != "" {
		name = nameFrom
	}
	name, err := printedPath(name)
	if err != nil {
		return err
	}
	src, err := generateFile(object, name)
	if err != nil {
		return err
	}
	// Written only after generation succeeded, so a failure never leaves a truncated module.
	return os.WriteFile(out, src, 0o644)
}

// generateFile loads the object and renders the module; printed is the path shown in the output.
func generateFile(object, printed string) ([]byte, error) {
	spec, err := ebpf.LoadCollectionSpec(object)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", object, err)
	}
	src, err := generate(spec, printed)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", object, err)
	}
	return src, nil
}

// printedPath normalises the path shown in the output (slashes, no "./") and refuses absolute
// ones: they would make the generated file differ between checkouts.
func printedPath(p string) (string, error) {
	if filepath.IsAbs(p) {
		return "", errors.New("object path " + p + " is absolute; run from the repository root " +
			"with a relative -object, or pass -name-from")
	}
	return path.Clean(filepath.ToSlash(p)), nil
}
