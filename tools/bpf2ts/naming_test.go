package main

import "testing"

func TestCamelCase(t *testing.T) {
	for in, want := range map[string]string{
		"tail_len":             "tailLen",
		"tstamp":               "tstamp",
		"save_unfingerprinted": "saveUnfingerprinted",
		"tsn_cfg":              "tsnCfg",
		".rodata":              "rodata",
		".data.counters":       "dataCounters",
		".rodata.str1.1":       "rodataStr11",
		"a__b":                 "aB",
		"MAX_AGE":              "MAXAGE",
		"x_1":                  "x1",
		".1x":                  "_1x",
		"_":                    "_",
	} {
		if got := camelCase(in); got != want {
			t.Errorf("camelCase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPascalCase(t *testing.T) {
	for in, want := range map[string]string{
		"tsn_record":     "TsnRecord",
		"tsn_key_mode":   "TsnKeyMode",
		"observer_event": "ObserverEvent",
		"foo":            "Foo",
		"_private_t":     "PrivateT",
	} {
		if got := pascalCase(in); got != want {
			t.Errorf("pascalCase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPadding(t *testing.T) {
	if !isPadding("_pad") || !isPadding("__reserved") || isPadding("pad_") {
		t.Error("isPadding: padding is exactly the names that start with an underscore")
	}
}

func TestPrefixes(t *testing.T) {
	if !hasEmittedPrefix("tsn_key") || !hasEmittedPrefix("observer_event") || hasEmittedPrefix("sk_buff") {
		t.Error("hasEmittedPrefix: only tsn_ and observer_ types are emitted unconditionally")
	}
}

func TestPrintedPath(t *testing.T) {
	for in, want := range map[string]string{
		"bpf/obj/tsn_core.bpf.o":   "bpf/obj/tsn_core.bpf.o",
		"./bpf/obj/tsn_core.bpf.o": "bpf/obj/tsn_core.bpf.o",
		"bpf//obj/x.o":             "bpf/obj/x.o",
	} {
		if got, err := printedPath(in); err != nil || got != want {
			t.Errorf("printedPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := printedPath("/work/main/bpf/obj/tsn_core.bpf.o"); err == nil {
		t.Error("printedPath accepted an absolute path, which would make the output checkout-dependent")
	}
}
