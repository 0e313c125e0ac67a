package main

import (
	"bytes"
	"flag"
	"os"
	"strconv"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the committed bindings instead of comparing")

const (
	goldenObject  = "../../bpf/obj/tsn_core.bpf.o"
	goldenOutput  = "../../bpf/gen/tsn_core.ts"
	goldenPrinted = "bpf/obj/tsn_core.bpf.o" // what `deno task gen` passes from the repository root
)

// TestGolden checks that the committed bindings are what the tool generates from the committed
// object, so a change to the generator cannot land without its effect on bpf/gen.
func TestGolden(t *testing.T) {
	got, err := generateFile(goldenObject, goldenPrinted)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(goldenOutput, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenOutput)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: regenerate it with `deno task gen` (or go test -run Golden -update)\n%s",
			goldenOutput, firstDiff(got, want))
	}
}

// TestDeterministic generates twice: Go randomises map iteration, so any unsorted walk over the
// collection's maps would show up here.
func TestDeterministic(t *testing.T) {
	for i := 0; i < 5; i++ {
		a, err := generateFile(goldenObject, goldenPrinted)
		if err != nil {
			t.Fatal(err)
		}
		b, err := generateFile(goldenObject, goldenPrinted)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("two runs differ:\n%s", firstDiff(a, b))
		}
	}
}

func firstDiff(got, want []byte) string {
	g, w := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl []byte
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if !bytes.Equal(gl, wl) {
			return "line " + strconv.Itoa(i+1) + ":\n  got:  " + string(gl) + "\n  want: " + string(wl)
		}
	}
	return "(no line differs)"
}
