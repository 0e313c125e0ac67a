package main

import (
	"strings"
	"unicode"
)

// words splits a C or ELF name into its words. Underscores separate words in C; dots and dashes
// appear in section names (".rodata", ".data.counters") and are treated the same way so that every
// name maps to a valid identifier.
func words(name string) []string {
	return strings.FieldsFunc(name, func(r rune) bool {
		return r == '_' || r == '.' || r == '-' || r == '/'
	})
}

// camelCase turns a C name into a TypeScript property name: tail_len -> tailLen,
// ".rodata" -> rodata. The first word keeps its case as written; later words get an upper-case
// first letter. Letters are never lowered, so MAX_AGE -> MAXAGE rather than guessing at acronyms.
func camelCase(name string) string {
	ws := words(name)
	if len(ws) == 0 {
		return "_"
	}
	var b strings.Builder
	b.WriteString(ws[0])
	for _, w := range ws[1:] {
		b.WriteString(upperFirst(w))
	}
	return identifier(b.String())
}

// pascalCase turns a C type name into a TypeScript type name: tsn_record -> TsnRecord.
func pascalCase(name string) string {
	return identifier(upperFirst(camelCase(name)))
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// identifier makes s a valid identifier: C names can start with a digit only after we drop
// separators (".rodata.str1.1" does not, but a section called ".1x" would).
func identifier(s string) string {
	if s == "" || unicode.IsDigit([]rune(s)[0]) {
		return "_" + s
	}
	return s
}

// isPadding reports whether a struct member is padding by the project's convention: its C name
// starts with an underscore. Padding is not part of the TypeScript value; encode writes zeros.
func isPadding(name string) bool {
	return strings.HasPrefix(name, "_")
}

// emittedPrefixes are the C name prefixes whose named structs and enums are always emitted, even
// when no map or variable refers to them (tsn_ for the core, observer_ for the e2e observer).
var emittedPrefixes = []string{"tsn_", "observer_"}

func hasEmittedPrefix(name string) bool {
	for _, p := range emittedPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
