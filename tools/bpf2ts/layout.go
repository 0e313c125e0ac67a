package main

import (
	"errors"
	"fmt"
	"sort"

	"github.com/cilium/ebpf/btf"
)

// fieldKind is how a struct member is represented in TypeScript.
type fieldKind int

const (
	kindScalar  fieldKind = iota // integer or enum: number, or bigint when 8 bytes wide
	kindBytes                    // char/u8 array: Uint8Array
	kindArray                    // array of integers or enums: number[] or bigint[]
	kindStruct                   // nested struct: its interface, encoded by its codec
	kindStructArray              // array of structs: the element interface's array, one codec call each
	kindPadding                  // C name starts with "_": zeros on encode, skipped on decode
)

// scalar is an integer as it sits in memory: what DataView accessor to use.
type scalar struct {
	size   uint32 // 1, 2, 4 or 8 bytes
	signed bool
}

// label is the short type name used in descriptors: u8 .. u64, s8 .. s64.
func (s scalar) label() string {
	if s.signed {
		return fmt.Sprintf("s%d", s.size*8)
	}
	return fmt.Sprintf("u%d", s.size*8)
}

type field struct {
	cName  string // as in C, for the JSDoc
	name   string // camelCase property name
	cType  string // C declaration for the JSDoc, e.g. "__u8 comm[16]"
	kind   fieldKind
	offset uint32 // bytes from the start of the struct
	size   uint32 // bytes
	elem   scalar // kindScalar, kindArray: the integer; kindBytes: u8
	count  uint32 // kindBytes, kindArray, kindStructArray: number of elements
	ref    string // kindStruct(Array): codec name; enum-typed scalars/arrays: enum name ("" if anonymous)
	stride uint32 // kindStructArray: bytes per element
	label  string // descriptor type, e.g. "u64", "u8[16]", "TsnKey", "TsnKeyMode"
}

type structDef struct {
	cName  string
	name   string // PascalCase interface and codec name
	size   uint32
	fields []field
}

type enumDef struct {
	cName  string
	name   string
	size   uint32
	signed bool
	values []btf.EnumValue
}

// model is everything the TypeScript module declares, keyed by C name so that each type is
// emitted once however many maps, variables and fields refer to it.
type model struct {
	structs map[string]*structDef
	enums   map[string]*enumDef
	// seen maps a C name to the BTF type it was built from, to detect two different definitions
	// with one name (they would collide in TypeScript).
	seen map[string]btf.Type
}

func newModel() *model {
	return &model{
		structs: map[string]*structDef{},
		enums:   map[string]*enumDef{},
		seen:    map[string]btf.Type{},
	}
}

// errUnsupported marks BTF the generator deliberately refuses: a wrong guess at a layout would
// corrupt data silently, a refusal is noticed at `deno task gen`.
var errUnsupported = errors.New("unsupported")

// check registers the BTF type behind a C name, or, when the name is already known, makes sure it
// is the same declaration: two different layouts under one name would collide in TypeScript.
func (m *model) check(name string, t btf.Type) error {
	prev, ok := m.seen[name]
	if !ok {
		m.seen[name] = t
		return nil
	}
	size := func(t btf.Type) int { n, _ := btf.Sizeof(t); return n }
	if prev == t || size(prev) == size(t) {
		return nil
	}
	return fmt.Errorf("two different BTF types are both named %q", name)
}

// addEnum records a named enum and returns its TypeScript name ("" for anonymous enums, which
// have no constant object and appear as plain integers).
func (m *model) addEnum(e *btf.Enum) (string, error) {
	if e.Name == "" {
		return "", nil
	}
	if err := m.check("enum "+e.Name, e); err != nil {
		return "", err
	}
	if d, ok := m.enums[e.Name]; ok {
		return d.name, nil
	}
	switch e.Size {
	case 1, 2, 4, 8:
	default:
		return "", fmt.Errorf("enum %s: size %d: %w", e.Name, e.Size, errUnsupported)
	}
	m.enums[e.Name] = &enumDef{cName: e.Name, name: pascalCase(e.Name), size: e.Size, signed: e.Signed, values: e.Values}
	return pascalCase(e.Name), nil
}

// addStruct records a struct, and every struct and enum its fields use, and returns its layout.
func (m *model) addStruct(s *btf.Struct) (*structDef, error) {
	if s.Name == "" {
		return nil, fmt.Errorf("anonymous struct (%d bytes): %w; give it a name", s.Size, errUnsupported)
	}
	if err := m.check("struct "+s.Name, s); err != nil {
		return nil, err
	}
	if d, ok := m.structs[s.Name]; ok {
		return d, nil
	}
	d := &structDef{cName: s.Name, name: pascalCase(s.Name), size: s.Size}
	// Registered before the members are walked, so that a (pointer-free, hence impossible in
	// practice) cycle could not recurse forever.
	m.structs[s.Name] = d
	names := map[string]string{}
	for _, mem := range s.Members {
		f, err := m.member(mem)
		if err != nil {
			return nil, fmt.Errorf("struct %s: field %s: %w", s.Name, displayName(mem.Name), err)
		}
		if f.offset+f.size > s.Size {
			return nil, fmt.Errorf("struct %s: field %s ends at byte %d, past the struct's %d bytes",
				s.Name, mem.Name, f.offset+f.size, s.Size)
		}
		if f.kind != kindPadding {
			if other, dup := names[f.name]; dup {
				return nil, fmt.Errorf("struct %s: fields %s and %s both become %q", s.Name, other, mem.Name, f.name)
			}
			names[f.name] = mem.Name
		}
		d.fields = append(d.fields, f)
	}
	return d, nil
}

func displayName(n string) string {
	if n == "" {
		return "(anonymous)"
	}
	return n
}

// member lays out one struct member.
func (m *model) member(mem btf.Member) (field, error) {
	f := field{cName: mem.Name, name: camelCase(mem.Name), offset: mem.Offset.Bytes()}
	if mem.Name == "" {
		return f, fmt.Errorf("anonymous members are %w", errUnsupported)
	}
	if mem.BitfieldSize != 0 || mem.Offset%8 != 0 {
		return f, fmt.Errorf("bitfields are %w", errUnsupported)
	}
	size, err := btf.Sizeof(mem.Type)
	if err != nil {
		return f, err
	}
	f.size = uint32(size)
	f.cType = cDecl(mem.Type, mem.Name)
	if isPadding(mem.Name) {
		// Padding is zeroed whatever its type, so its type is never interpreted.
		f.kind = kindPadding
		return f, nil
	}

	switch t := btf.UnderlyingType(mem.Type).(type) {
	case *btf.Struct:
		d, err := m.addStruct(t)
		if err != nil {
			return f, err
		}
		f.kind, f.ref, f.label = kindStruct, d.name, d.name
	case *btf.Array:
		elemType := btf.UnderlyingType(t.Type)
		if st, ok := elemType.(*btf.Struct); ok {
			d, err := m.addStruct(st)
			if err != nil {
				return f, fmt.Errorf("array element: %w", err)
			}
			f.kind, f.ref, f.count, f.stride = kindStructArray, d.name, t.Nelems, d.size
			f.label = fmt.Sprintf("%s[%d]", d.name, t.Nelems)
			return f, nil
		}
		elem, ref, err := m.integer(elemType)
		if err != nil {
			return f, fmt.Errorf("array element: %w", err)
		}
		f.elem, f.ref, f.count = elem, ref, t.Nelems
		if isByte(elemType) {
			f.kind, f.label = kindBytes, fmt.Sprintf("u8[%d]", t.Nelems)
		} else {
			f.kind = kindArray
			f.label = fmt.Sprintf("%s[%d]", orLabel(ref, elem), t.Nelems)
		}
	default:
		elem, ref, err := m.integer(t)
		if err != nil {
			return f, err
		}
		f.kind, f.elem, f.ref, f.label = kindScalar, elem, ref, orLabel(ref, elem)
	}
	return f, nil
}

func orLabel(ref string, s scalar) string {
	if ref != "" {
		return ref
	}
	return s.label()
}

// integer accepts the types that read as one integer: ints and enums. Everything else is refused
// with a reason, so the error names what to change in the C source.
func (m *model) integer(t btf.Type) (scalar, string, error) {
	switch t := t.(type) {
	case *btf.Int:
		if !validScalarSize(t.Size) {
			return scalar{}, "", fmt.Errorf("%d-byte integer %s is %w", t.Size, t.Name, errUnsupported)
		}
		return scalar{size: t.Size, signed: t.Encoding == btf.Signed}, "", nil
	case *btf.Enum:
		ref, err := m.addEnum(t)
		if err != nil {
			return scalar{}, "", err
		}
		return scalar{size: t.Size, signed: t.Signed}, ref, nil
	case *btf.Pointer:
		return scalar{}, "", fmt.Errorf("pointers are %w (their value means nothing outside the kernel)", errUnsupported)
	case *btf.Union:
		return scalar{}, "", fmt.Errorf("unions are %w", errUnsupported)
	case *btf.Float:
		return scalar{}, "", fmt.Errorf("floats are %w", errUnsupported)
	case *btf.Array:
		return scalar{}, "", fmt.Errorf("arrays of arrays are %w", errUnsupported)
	case *btf.Struct:
		return scalar{}, "", fmt.Errorf("arrays of structs are %w", errUnsupported)
	default:
		return scalar{}, "", fmt.Errorf("type %v is %w", t, errUnsupported)
	}
}

func validScalarSize(n uint32) bool { return n == 1 || n == 2 || n == 4 || n == 8 }

// isByte reports whether an array of t is raw bytes (char, unsigned char, __u8): those become a
// Uint8Array. "signed char" (__s8) arrays stay number[] so that decode keeps the sign.
func isByte(t btf.Type) bool {
	i, ok := t.(*btf.Int)
	return ok && i.Size == 1 && (i.Encoding != btf.Signed || i.Name == "char")
}

// cDecl renders a member's C declaration for documentation: typedef names are kept because
// they are what the header says (__u64, not unsigned long long).
func cDecl(t btf.Type, name string) string {
	suffix := ""
	for {
		if a, ok := t.(*btf.Array); ok {
			suffix += fmt.Sprintf("[%d]", a.Nelems)
			t = a.Type
			continue
		}
		break
	}
	return cTypeName(t) + " " + name + suffix
}

func cTypeName(t btf.Type) string {
	switch t := t.(type) {
	case *btf.Struct:
		return "struct " + t.Name
	case *btf.Union:
		return "union " + t.Name
	case *btf.Enum:
		return "enum " + t.Name
	case *btf.Pointer:
		return cTypeName(t.Target) + " *"
	case *btf.Const:
		return "const " + cTypeName(t.Type)
	case *btf.Volatile:
		return "volatile " + cTypeName(t.Type)
	case *btf.Void:
		return "void"
	default:
		if n := t.TypeName(); n != "" {
			return n
		}
		return fmt.Sprintf("%v", t)
	}
}

// describe names a map key/value or variable type for the descriptors: a struct's TypeScript
// name, u32 and friends for integers, an array label, or the section name for datasecs. size is
// what the map or section says, used when BTF has no type (data-section map keys).
func (m *model) describe(t btf.Type, size uint32) (string, error) {
	if t == nil {
		return untyped(size), nil
	}
	switch u := btf.UnderlyingType(t).(type) {
	case *btf.Void:
		return untyped(size), nil
	case *btf.Var:
		return m.describe(u.Type, size)
	case *btf.Datasec:
		// The section's variables are described in VARIABLES; make sure their types are emitted.
		for _, v := range u.Vars {
			if vv, ok := v.Type.(*btf.Var); ok {
				if _, err := m.describe(vv.Type, v.Size); err != nil {
					return "", fmt.Errorf("variable %s: %w", vv.Name, err)
				}
			}
		}
		return u.Name, nil
	case *btf.Struct:
		d, err := m.addStruct(u)
		if err != nil {
			return "", err
		}
		return d.name, nil
	case *btf.Array:
		elem := btf.UnderlyingType(u.Type)
		if s, ok := elem.(*btf.Struct); ok {
			d, err := m.addStruct(s)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("%s[%d]", d.name, u.Nelems), nil
		}
		sc, ref, err := m.integer(elem)
		if err != nil {
			return "", err
		}
		if isByte(elem) {
			sc = scalar{size: 1} // char arrays are bytes, as in struct fields
		}
		return fmt.Sprintf("%s[%d]", orLabel(ref, sc), u.Nelems), nil
	default:
		sc, ref, err := m.integer(u)
		if err != nil {
			return "", err
		}
		return orLabel(ref, sc), nil
	}
}

// untyped describes bytes without BTF: a plain unsigned integer when the size allows one.
func untyped(size uint32) string {
	switch {
	case size == 0:
		return "void"
	case validScalarSize(size):
		return scalar{size: size}.label()
	default:
		return fmt.Sprintf("u8[%d]", size)
	}
}

// addPrefixed adds the named structs and enums whose names carry one of emittedPrefixes, so that
// types shared with userspace are emitted even before a map uses them.
func (m *model) addPrefixed(spec *btf.Spec) error {
	if spec == nil {
		return nil
	}
	for t, err := range spec.All() {
		if err != nil {
			return err
		}
		if !hasEmittedPrefix(t.TypeName()) {
			continue
		}
		switch t := t.(type) {
		case *btf.Struct:
			if _, err := m.addStruct(t); err != nil {
				return err
			}
		case *btf.Enum:
			if _, err := m.addEnum(t); err != nil {
				return err
			}
		}
	}
	return nil
}

// sortedStructs and sortedEnums give the emission order: by C name, so the output does not depend
// on map iteration or BTF type IDs.
func (m *model) sortedStructs() []*structDef {
	out := make([]*structDef, 0, len(m.structs))
	for _, d := range m.structs {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].cName < out[j].cName })
	return out
}

func (m *model) sortedEnums() []*enumDef {
	out := make([]*enumDef, 0, len(m.enums))
	for _, d := range m.enums {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].cName < out[j].cName })
	return out
}
