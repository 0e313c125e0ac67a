package main

import (
	"fmt"
	"strings"
)

// tsType is the TypeScript type of a field in the struct's interface.
func tsType(f field) string {
	wide := f.elem.size == 8 // 64-bit values do not fit a number exactly
	switch f.kind {
	case kindStruct:
		return f.ref
	case kindStructArray:
		return f.ref + "[]"
	case kindBytes:
		return "Uint8Array"
	case kindArray:
		if wide {
			return "bigint[]"
		}
		return "number[]"
	default:
		if wide {
			return "bigint"
		}
		return "number"
	}
}

// accessor is the DataView method suffix for an integer: Uint8, Int16, BigUint64, ...
func accessor(s scalar) string {
	sign := "Uint"
	if s.signed {
		sign = "Int"
	}
	if s.size == 8 {
		return "Big" + sign + "64"
	}
	return fmt.Sprintf("%s%d", sign, s.size*8)
}

// withEndian appends the littleEndian argument; DataView's 8-bit accessors take none.
func (g *gen) withEndian(s scalar, args ...string) []string {
	if s.size == 1 {
		return args
	}
	return append(args, g.le)
}

// plus renders base + n, dropping "+ 0" so the output reads like hand-written code.
func plus(base string, n uint32) string {
	if n == 0 {
		return base
	}
	if base == "" {
		return num(n)
	}
	return fmt.Sprintf("%s + %d", base, n)
}

// structElement is the byte offset of element i of an array of structs, from base.
func structElement(base string, f field) string {
	return fmt.Sprintf("%s + i * %d", plus(base, f.offset), f.stride)
}

// element is the byte offset of element i of an array field, inside the struct's DataView.
func element(f field) string {
	idx := "i"
	if f.elem.size != 1 {
		idx = fmt.Sprintf("i * %d", f.elem.size)
	}
	if f.offset == 0 {
		return idx
	}
	return fmt.Sprintf("%d + %s", f.offset, idx)
}

func (g *gen) writeStruct(s *structDef) {
	var public []field
	for _, f := range s.fields {
		if f.kind != kindPadding {
			public = append(public, f)
		}
	}
	w := &g.b

	fmt.Fprintf(w, "\n/** struct %s (%d bytes) */\n", s.cName, s.size)
	if len(public) == 0 {
		// An empty interface is a lint error; a struct of padding only carries no value.
		fmt.Fprintf(w, "export type %s = Record<PropertyKey, never>;\n", s.name)
	} else {
		fmt.Fprintf(w, "export interface %s {\n", s.name)
		for _, f := range public {
			doc := fmt.Sprintf("%s, offset %d", f.cType, f.offset)
			if f.kind != kindStruct && f.ref != "" {
				doc += "; values in " + f.ref
			}
			fmt.Fprintf(w, "  /** %s */\n  %s: %s;\n", doc, f.name, tsType(f))
		}
		w.WriteString("}\n")
	}

	var fields lit
	for _, f := range public {
		fields = append(fields, prop{f.name, lit{
			{"offset", num(f.offset)},
			{"size", num(f.size)},
			{"type", quote(f.label)},
		}})
	}

	fmt.Fprintf(w, "/** Byte layout and codec of struct %s. */\n", s.cName)
	fmt.Fprintf(w, "export const %s = {\n", s.name)
	fmt.Fprintf(w, "  size: %d,\n", s.size)
	g.writeLit(2, "fields: ", fields, ",")
	g.writeEncode(s, public)
	g.writeDecode(s, public)
	w.WriteString("} as const;\n")
}

// usesView reports whether any field is read or written through the DataView (nested structs and
// byte arrays work on the Uint8Array directly).
func usesView(fields []field) bool {
	for _, f := range fields {
		if f.kind == kindScalar || f.kind == kindArray {
			return true
		}
	}
	return false
}

// writeSignature writes the head of a codec function, breaking the parameters one per line when
// it is too long, as deno fmt does. The functions are arrow-valued properties rather than methods:
// bpf/gen is exported from a workspace package, and deno lint's no-slow-types rejects methods in
// an exported object literal but accepts fully annotated arrow functions.
func (g *gen) writeSignature(name string, params []string, ret string) {
	line := fmt.Sprintf("  %s: (%s): %s => {", name, strings.Join(params, ", "), ret)
	if len(line) <= lineWidth {
		g.b.WriteString(line + "\n")
		return
	}
	fmt.Fprintf(&g.b, "  %s: (\n", name)
	for _, p := range params {
		fmt.Fprintf(&g.b, "    %s,\n", p)
	}
	fmt.Fprintf(&g.b, "  ): %s => {\n", ret)
}

func (g *gen) writeEncode(s *structDef, fields []field) {
	value := "value"
	if len(fields) == 0 {
		value = "_value" // deno lint: unused parameters need the underscore
	}
	g.b.WriteString("  /** Writes `value` into `out` at byte `at`, padding zeroed, and returns `out`. */\n")
	g.writeSignature("encode", []string{
		value + ": " + s.name,
		fmt.Sprintf("out: Uint8Array = new Uint8Array(%d)", s.size),
		"at = 0",
	}, "Uint8Array")
	size := num(s.size)
	g.stmt(4, "checkRoom", quote(s.name+".encode"), "out", "at", size)
	// Zeroing the whole range first covers explicit (_pad) and implicit padding alike.
	g.stmt(4, "out.fill", "0", "at", "at + "+size)
	if usesView(fields) {
		g.stmt(4, "const view = new DataView", "out.buffer", "out.byteOffset + at", size)
	}
	for _, f := range fields {
		v := "value." + f.name
		switch f.kind {
		case kindScalar:
			g.stmt(4, "view.set"+accessor(f.elem), g.withEndian(f.elem, num(f.offset), v)...)
		case kindBytes:
			g.stmt(4, "checkLength", quote(s.name+"."+f.name), v+".length", num(f.count))
			g.stmt(4, "out.set", v, plus("at", f.offset))
		case kindArray:
			zero := "0"
			if f.elem.size == 8 {
				zero = "0n"
			}
			g.stmt(4, "checkLength", quote(s.name+"."+f.name), v+".length", num(f.count))
			// Up to the C length: the missing tail of a shorter array is written as zeros.
			fmt.Fprintf(&g.b, "    for (let i = 0; i < %d; i++) {\n", f.count)
			g.stmt(6, "view.set"+accessor(f.elem), g.withEndian(f.elem, element(f), v+"[i] ?? "+zero)...)
			g.b.WriteString("    }\n")
		case kindStruct:
			g.stmt(4, f.ref+".encode", v, "out", plus("at", f.offset))
		case kindStructArray:
			// Elements past the value's length stay as the fill above left them: zero.
			g.stmt(4, "checkLength", quote(s.name+"."+f.name), v+".length", num(f.count))
			g.b.WriteString("    " + v + ".forEach((e, i) => " +
				call{f.ref + ".encode", []string{"e", "out", structElement("at", f)}}.inline() + ");\n")
		}
	}
	g.b.WriteString("    return out;\n  },\n")
}

func (g *gen) writeDecode(s *structDef, fields []field) {
	g.b.WriteString("  /** Reads the struct at byte `at` of `bytes`; byte arrays are copied. */\n")
	g.writeSignature("decode", []string{"bytes: Uint8Array", "at = 0"}, s.name)
	size := num(s.size)
	g.stmt(4, "checkRoom", quote(s.name+".decode"), "bytes", "at", size)
	if usesView(fields) {
		g.stmt(4, "const view = new DataView", "bytes.buffer", "bytes.byteOffset + at", size)
	}
	var out lit
	for _, f := range fields {
		var expr call
		switch f.kind {
		case kindScalar:
			expr = call{"view.get" + accessor(f.elem), g.withEndian(f.elem, num(f.offset))}
		case kindBytes:
			// slice, not subarray: a decoded value must not change when the buffer is reused.
			expr = call{"bytes.slice", []string{plus("at", f.offset), plus("at", f.offset+f.size)}}
		case kindArray:
			get := call{"view.get" + accessor(f.elem), g.withEndian(f.elem, element(f))}
			expr = call{"Array.from", []string{fmt.Sprintf("{ length: %d }", f.count), "(_, i) => " + get.inline()}}
		case kindStruct:
			expr = call{f.ref + ".decode", []string{"bytes", plus("at", f.offset)}}
		case kindStructArray:
			get := call{f.ref + ".decode", []string{"bytes", structElement("at", f)}}
			expr = call{"Array.from", []string{fmt.Sprintf("{ length: %d }", f.count), "(_, i) => " + get.inline()}}
		}
		out = append(out, prop{f.name, expr})
	}
	g.writeLit(4, "return ", out, ";")
	g.b.WriteString("  },\n")
}

// writeHelpers appends the two checks the codecs share, only when some codec calls them (an
// unused function would fail deno lint).
func (g *gen) writeHelpers(structs []*structDef) {
	if len(structs) == 0 {
		return
	}
	g.b.WriteString(backticks(`
/** Throws a RangeError unless 'bytes' holds 'size' bytes from byte 'at'. */
function checkRoom(what: string, bytes: Uint8Array, at: number, size: number): void {
  if (!Number.isInteger(at) || at < 0 || bytes.length - at < size) {
    throw new RangeError('${what}: needs ${size} bytes at offset ${at}, got ${bytes.length - at}');
  }
}
`))
	arrays := false
	for _, s := range structs {
		for _, f := range s.fields {
			arrays = arrays || f.kind == kindBytes || f.kind == kindArray || f.kind == kindStructArray
		}
	}
	if arrays {
		g.b.WriteString(backticks(`
/** Throws a RangeError when an array is longer than its C array; shorter ones are zero-filled. */
function checkLength(what: string, length: number, max: number): void {
  if (length > max) {
    throw new RangeError('${what}: ${length} elements, the C array holds ${max}');
  }
}
`))
	}
}

// backticks lets the TypeScript above be written in a Go raw string, which cannot contain a
// backtick: the helpers' source uses ' where TypeScript needs a backtick.
func backticks(ts string) string { return strings.ReplaceAll(ts, "'", "`") }
