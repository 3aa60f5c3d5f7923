package analysis

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"golang.org/x/arch/x86/x86asm"
)

// Limits on the call graph of one object: beyond them the object is not
// analysed this way and all its imports count.
const (
	maxGraphText   = 64 << 20 // bytes of executable code
	maxGraphRanges = 1 << 20
)

// Graph is the call graph of one x86_64 shared object, built from its code
// by BuildGraph, and what Reachable needs to follow calls from one object
// into the next: its name and the libraries it needs.
//
// Nodes are ranges of code: the function bounds .eh_frame records (GCC
// and Clang emit one record per function and per split-off cold part), cut
// further at every exported symbol and every address the code jumps to,
// calls or takes; the ranges cover all code. An edge leads from a range to
// what its instructions can transfer control to or make callable:
//
//   - a direct call, jump or conditional jump, to the range holding the
//     target; a call through the PLT or the GOT, to the symbol's name
//     (resolved by Reachable, in every object that exports it);
//   - an address the code takes (lea or a RIP-relative operand pointing
//     at code, a GOT slot holding a function's address): what is taken
//     may be called through a pointer later, by anyone;
//   - the next range, unless the range ends at a known function end or
//     with an unconditional jump, return or trap;
//   - a data block the code refers to (an address in a data section,
//     directly or through a GOT slot, and the blocks that start up to
//     dataSlack bytes after it). A data block leads to the functions
//     and the data blocks its pointers (relocations) hold.
//
// Data blocks (splitData) cut the data sections at every address a
// relocation stores, and at the bounds of every dynamic symbol: what data
// points to starts an object. A function whose address is stored in data
// counts only when reachable code, or a reachable block, refers to the
// block holding it: libsystemd's sd-bus callbacks no longer count for a
// program that calls sd_notify only. Some code and data count whatever
// the program calls (always): the .init and .fini sections; the
// constructor and destructor arrays, thread-local data and every
// exported variable (other objects read them by name, the loader and the
// thread pointer without a visible reference); a symbol stored in data by
// name, an ifunc resolver, a code address stored anywhere but a data
// section; and every range nothing visibly enters (cold parts reached only
// through a jump table or an exception table). A range with bytes that do
// not decode reaches all the object's code and data.
type Graph struct {
	// Soname is the object's DT_SONAME; Needed its DT_NEEDED entries.
	Soname string
	Needed []string
	// Program is set for an executable: all its imports count, and
	// nothing else of the graph is filled. (Followed from its entry point,
	// its constructors and its exports, with its data followed by block,
	// mariadbd, haproxy and perl each reach all their imports: the graph
	// would cost up to 2 s while recording for nothing.)
	Program bool

	names   []string           // symbol names the code refers to
	exports map[string][]int32 // exported function -> ranges
	edges   [][]int32          // range -> ranges
	refs    [][]int32          // range -> names
	opaque  []bool             // range has bytes that did not decode
	always  []int32            // ranges reachable once loaded
	alwaysN []int32            // names referenced from data

	// Data, followed by block (splitData): a block counts once
	// reachable code, or a counted block, refers to it; then the code
	// its pointers hold counts.
	blocks      int       // data blocks
	dataRefs    [][]int32 // range -> blocks its code refers to
	blockCode   [][]int32 // block -> ranges its pointers hold
	blockData   [][]int32 // block -> blocks its pointers hold
	blockAlways []int32   // blocks counted once loaded
}

// Ranges is the number of code ranges in the graph (0 for a program).
func (g *Graph) Ranges() int { return len(g.edges) }

// x86_64 relocation types (elf.R_X86_64_*).
const (
	rX8664_64        = uint32(elf.R_X86_64_64)
	rX8664GlobDat    = uint32(elf.R_X86_64_GLOB_DAT)
	rX8664JumpSlot   = uint32(elf.R_X86_64_JMP_SLOT)
	rX8664Relative   = uint32(elf.R_X86_64_RELATIVE)
	rX8664IRelative  = uint32(elf.R_X86_64_IRELATIVE)
	relaEntrySize    = 24
	maxRelocsInGraph = 1 << 22
)

// reloc is one dynamic relocation: the name of its symbol (if any), the
// symbol's value if the object defines it, and its addend.
type reloc struct {
	typ     uint32
	name    string
	defined bool
	value   uint64
	addend  int64
}

// target returns the address a relocation makes its slot hold, if it
// points into this object.
func (r reloc) target() (uint64, bool) {
	switch {
	case r.typ == rX8664Relative || r.typ == rX8664IRelative:
		return uint64(r.addend), true
	case r.defined:
		return r.value + uint64(r.addend), true
	}
	return 0, false
}

// graphBuilder holds what BuildGraph reads of one object.
type graphBuilder struct {
	f      *elf.File
	code   []*elf.Section // executable sections, by address
	data   map[*elf.Section][]byte
	plt    []*elf.Section
	got    []*elf.Section
	dsecs  []*elf.Section   // allocated sections that are not code, by address
	blocks []uint64         // data block starts, sorted (splitData)
	relocs map[uint64]reloc // by slot address

	starts []uint64        // range starts, sorted
	ends   map[uint64]bool // known function ends
	names  map[string]int32
	g      *Graph
}

// BuildGraph builds the call graph of the x86_64 ELF object f (see
// Graph). An error says why it cannot: not x86_64, no dynamic section, too
// large, or code or tables that do not parse; Reachable then counts all
// of the object's imports.
func BuildGraph(f *elf.File) (g *Graph, err error) {
	defer func() {
		if p := recover(); p != nil {
			g, err = nil, fmt.Errorf("build call graph: malformed object: %v", p)
		}
	}()
	g = &Graph{}
	if s, err := f.DynString(elf.DT_SONAME); err == nil && len(s) > 0 {
		g.Soname = s[0]
	}
	g.Needed, _ = f.DynString(elf.DT_NEEDED)
	if g.Program = isProgram(f, g.Soname); g.Program {
		return g, nil
	}
	if f.Machine != elf.EM_X86_64 || f.Class != elf.ELFCLASS64 {
		return nil, fmt.Errorf("build call graph: %v code is not analysed", f.Machine)
	}
	b := &graphBuilder{f: f, g: g, data: map[*elf.Section][]byte{}, ends: map[uint64]bool{}, names: map[string]int32{}}
	if err := b.load(); err != nil {
		return nil, fmt.Errorf("build call graph: %w", err)
	}
	if err := b.build(); err != nil {
		return nil, fmt.Errorf("build call graph: %w", err)
	}
	return g, nil
}

// isProgram reports whether f is an executable: ET_EXEC, or a PIE (an
// interpreter and DF_1_PIE, or an interpreter and no DT_SONAME). A shared
// library that can also be run (libcap's, glibc's) is a library.
func isProgram(f *elf.File, soname string) bool {
	if f.Type == elf.ET_EXEC {
		return true
	}
	if !slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP }) {
		return false
	}
	const df1PIE = 0x08000000
	if v, err := f.DynValue(elf.DT_FLAGS_1); err == nil && len(v) > 0 && v[0]&df1PIE != 0 {
		return true
	}
	return soname == ""
}

// load reads the code sections, the dynamic relocations and the function
// bounds.
func (b *graphBuilder) load() error {
	var size uint64
	for _, s := range b.f.Sections {
		if s.Type != elf.SHT_PROGBITS || s.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		switch {
		case s.Flags&elf.SHF_EXECINSTR != 0:
			size += s.Size
			if size > maxGraphText {
				return fmt.Errorf("more than %d bytes of code", maxGraphText)
			}
			d, err := s.Data()
			if err != nil {
				return fmt.Errorf("read %s: %w", s.Name, err)
			}
			b.data[s] = d
			if strings.HasPrefix(s.Name, ".plt") {
				b.plt = append(b.plt, s)
			} else {
				b.code = append(b.code, s)
			}
		case s.Name == ".got" || s.Name == ".got.plt":
			b.got = append(b.got, s)
		}
	}
	if len(b.code) == 0 {
		return errors.New("no code")
	}
	for _, s := range b.f.Sections {
		// .tbss takes no room in the image: its addresses are those of the
		// sections after it.
		tbss := s.Type == elf.SHT_NOBITS && s.Flags&elf.SHF_TLS != 0
		if s.Flags&elf.SHF_ALLOC != 0 && s.Flags&elf.SHF_EXECINSTR == 0 && s.Size > 0 && !tbss {
			b.dsecs = append(b.dsecs, s)
		}
	}
	sortSections := func(ss []*elf.Section) {
		slices.SortFunc(ss, func(a, c *elf.Section) int { return cmpU64(a.Addr, c.Addr) })
	}
	sortSections(b.code)
	sortSections(b.plt)
	sortSections(b.dsecs)
	if err := b.loadRelocs(); err != nil {
		return err
	}
	for _, s := range b.code {
		b.starts = append(b.starts, s.Addr)
		b.ends[s.Addr+s.Size] = true
	}
	if err := b.loadEHFrame(); err != nil {
		return err
	}
	syms, err := b.f.DynamicSymbols()
	if err != nil && len(syms) == 0 {
		return fmt.Errorf("dynamic symbols: %w", err)
	}
	local, _ := b.f.Symbols() // stripped objects have none
	b.g.exports = map[string][]int32{}
	for _, set := range [][]elf.Symbol{syms, local} {
		for _, s := range set {
			if t := elf.ST_TYPE(s.Info); (t != elf.STT_FUNC && t != elf.STT_GNU_IFUNC) || s.Section == elf.SHN_UNDEF || b.codeSection(s.Value) == nil {
				continue
			}
			b.starts = append(b.starts, s.Value)
			if s.Size > 0 {
				b.starts = append(b.starts, s.Value+s.Size)
				b.ends[s.Value+s.Size] = true
			}
		}
	}
	return nil
}

// loadRelocs reads the SHT_RELA sections that refer to .dynsym.
func (b *graphBuilder) loadRelocs() error {
	syms, _ := b.f.DynamicSymbols()
	b.relocs = map[uint64]reloc{}
	for _, s := range b.f.Sections {
		if s.Type == elf.SHT_REL {
			return fmt.Errorf("%s: REL relocations on x86_64", s.Name)
		}
		if s.Type != elf.SHT_RELA || s.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		d, err := s.Data()
		if err != nil {
			return fmt.Errorf("read %s: %w", s.Name, err)
		}
		if len(d)/relaEntrySize+len(b.relocs) > maxRelocsInGraph {
			return fmt.Errorf("more than %d relocations", maxRelocsInGraph)
		}
		for i := 0; i+relaEntrySize <= len(d); i += relaEntrySize {
			off := binary.LittleEndian.Uint64(d[i:])
			info := binary.LittleEndian.Uint64(d[i+8:])
			r := reloc{typ: uint32(info), addend: int64(binary.LittleEndian.Uint64(d[i+16:]))}
			if si := info >> 32; si > 0 {
				if si > uint64(len(syms)) {
					return fmt.Errorf("%s: symbol %d out of range", s.Name, si)
				}
				sym := syms[si-1]
				r.name, r.defined, r.value = sym.Name, sym.Section != elf.SHN_UNDEF, sym.Value
			}
			b.relocs[off] = r
		}
	}
	return nil
}

// loadEHFrame adds the function bounds of .eh_frame's FDEs.
func (b *graphBuilder) loadEHFrame() error {
	s := b.f.Section(".eh_frame")
	if s == nil {
		return nil // bounds then come from symbols and references alone
	}
	d, err := s.Data()
	if err != nil {
		return fmt.Errorf("read .eh_frame: %w", err)
	}
	fdes, err := parseEHFrame(d, s.Addr)
	if err != nil {
		return fmt.Errorf(".eh_frame: %w", err)
	}
	for _, fde := range fdes {
		if fde[1] == 0 || b.codeSection(fde[0]) == nil {
			continue
		}
		b.starts = append(b.starts, fde[0], fde[0]+fde[1])
		b.ends[fde[0]+fde[1]] = true
	}
	return nil
}

// parseEHFrame returns the [start, length] of each FDE of an .eh_frame
// section loaded at addr.
func parseEHFrame(d []byte, addr uint64) ([][2]uint64, error) {
	encs := map[int]byte{} // CIE offset -> FDE pointer encoding
	var out [][2]uint64
	for off := 0; off+4 <= len(d); {
		length := uint64(binary.LittleEndian.Uint32(d[off:]))
		hdr := 4
		if length == 0 {
			break
		}
		if length == 0xffffffff {
			if off+12 > len(d) {
				return nil, errors.New("truncated record")
			}
			length, hdr = binary.LittleEndian.Uint64(d[off+4:]), 12
		}
		end := uint64(off) + uint64(hdr) + length
		if end > uint64(len(d)) || length < 4 {
			return nil, fmt.Errorf("record at %#x overruns the section", off)
		}
		body := d[off+hdr : end]
		id := binary.LittleEndian.Uint32(body)
		if id == 0 {
			enc, err := cieEncoding(body[4:])
			if err != nil {
				return nil, fmt.Errorf("CIE at %#x: %w", off, err)
			}
			encs[off] = enc
		} else {
			cie := off + hdr - int(id)
			enc, ok := encs[cie]
			if !ok {
				return nil, fmt.Errorf("FDE at %#x: no CIE at %#x", off, cie)
			}
			p := body[4:]
			pos := addr + uint64(off+hdr+4)
			start, n, err := readEncoded(p, enc, pos)
			if err != nil {
				return nil, fmt.Errorf("FDE at %#x: %w", off, err)
			}
			size, _, err := readEncoded(p[n:], enc&0x0f, 0)
			if err != nil {
				return nil, fmt.Errorf("FDE at %#x: %w", off, err)
			}
			out = append(out, [2]uint64{start, size})
		}
		off = int(end)
	}
	return out, nil
}

// cieEncoding returns the FDE pointer encoding of a CIE (its body after
// the id).
func cieEncoding(p []byte) (byte, error) {
	if len(p) < 1 {
		return 0, errors.New("truncated")
	}
	version := p[0]
	aug, rest, ok := strings.Cut(string(p[1:]), "\x00")
	if !ok {
		return 0, errors.New("unterminated augmentation")
	}
	q := []byte(rest)
	if version >= 4 {
		if len(q) < 2 {
			return 0, errors.New("truncated")
		}
		q = q[2:]
	}
	var err error
	for range 2 { // code and data alignment
		if q, err = skipLEB(q); err != nil {
			return 0, err
		}
	}
	if version == 1 {
		if len(q) < 1 {
			return 0, errors.New("truncated")
		}
		q = q[1:]
	} else if q, err = skipLEB(q); err != nil {
		return 0, err
	}
	enc := byte(0) // absolute pointers
	if !strings.HasPrefix(aug, "z") {
		if aug != "" {
			return 0, fmt.Errorf("augmentation %q", aug)
		}
		return enc, nil
	}
	if q, err = skipLEB(q); err != nil {
		return 0, err
	}
	for _, c := range aug[1:] {
		switch c {
		case 'R', 'L':
			if len(q) < 1 {
				return 0, errors.New("truncated")
			}
			if c == 'R' {
				enc = q[0]
			}
			q = q[1:]
		case 'P':
			if len(q) < 1 {
				return 0, errors.New("truncated")
			}
			_, n, err := readEncoded(q[1:], q[0]&0x0f, 0)
			if err != nil {
				return 0, err
			}
			q = q[1+n:]
		case 'S', 'B':
		default:
			return 0, fmt.Errorf("augmentation %q", aug)
		}
	}
	return enc, nil
}

// readEncoded reads a DW_EH_PE-encoded pointer at p; pos is p's address,
// for pc-relative pointers. It knows the fixed-size formats (absolute,
// udata2/4/8, sdata2/4/8) and pc-relative application, which is what
// compilers emit on x86_64.
func readEncoded(p []byte, enc byte, pos uint64) (uint64, int, error) {
	sizes := map[byte]int{0x00: 8, 0x02: 2, 0x03: 4, 0x04: 8, 0x0a: 2, 0x0b: 4, 0x0c: 8}
	n, ok := sizes[enc&0x0f]
	if !ok || enc&0x70 > 0x10 || enc&0x80 != 0 {
		return 0, 0, fmt.Errorf("pointer encoding %#x", enc)
	}
	if len(p) < n {
		return 0, 0, errors.New("truncated pointer")
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(p[i])
	}
	if signed := enc&0x08 != 0; signed && n < 8 {
		shift := uint(64 - 8*n)
		v = uint64(int64(v<<shift) >> shift)
	}
	if enc&0x70 == 0x10 {
		v += pos
	}
	return v, n, nil
}

// skipLEB skips one LEB128 number.
func skipLEB(p []byte) ([]byte, error) {
	for i, c := range p {
		if c&0x80 == 0 {
			return p[i+1:], nil
		}
	}
	return nil, errors.New("truncated number")
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sectionAt returns the section of ss holding addr, or nil.
func sectionAt(ss []*elf.Section, addr uint64) *elf.Section {
	for _, s := range ss {
		if addr >= s.Addr && addr < s.Addr+s.Size {
			return s
		}
	}
	return nil
}

func (b *graphBuilder) codeSection(addr uint64) *elf.Section { return sectionAt(b.code, addr) }

// insn is what one decoded instruction refers to.
type insn struct {
	next    uint64 // address after it
	branch  bool   // a direct call, jump or conditional jump
	target  uint64 // its target, or the RIP-relative address it uses
	ripRel  bool
	stops   bool   // control never falls through (ret, jmp, ud2, hlt)
	padding bool   // nop or int3
	immCode uint64 // an immediate operand
	hasImm  bool
	bad     bool // did not decode
}

// decode decodes the instruction at addr in d (d starts at addr).
func decode(d []byte, addr uint64) insn {
	if len(d) >= 4 && d[0] == 0xf3 && d[1] == 0x0f && d[2] == 0x1e && (d[3] == 0xfa || d[3] == 0xfb) {
		return insn{next: addr + 4} // endbr64, endbr32: x86asm does not know them
	}
	in, err := x86asm.Decode(d, 64)
	if err != nil || in.Len == 0 {
		return insn{bad: true, next: addr + 1}
	}
	out := insn{next: addr + uint64(in.Len)}
	switch in.Op {
	case x86asm.RET, x86asm.LRET, x86asm.UD2, x86asm.UD1, x86asm.UD0, x86asm.HLT, x86asm.JMP, x86asm.LJMP, x86asm.IRET, x86asm.IRETD, x86asm.IRETQ:
		out.stops = true
	case x86asm.NOP, x86asm.INT:
		out.padding = in.Op == x86asm.NOP || (len(d) > 0 && d[0] == 0xcc)
	}
	for _, a := range in.Args {
		switch a := a.(type) {
		case x86asm.Rel:
			out.branch, out.target = true, out.next+uint64(int64(a))
		case x86asm.Mem:
			if a.Base == x86asm.RIP {
				out.ripRel, out.target = true, out.next+uint64(a.Disp)
			}
		case x86asm.Imm:
			out.immCode, out.hasImm = uint64(a), true
		}
	}
	return out
}

// pltName returns the symbol a PLT stub at addr jumps to through its GOT
// slot.
func (b *graphBuilder) pltName(addr uint64) (string, bool) {
	s := sectionAt(b.plt, addr)
	if s == nil {
		return "", false
	}
	d := b.data[s][addr-s.Addr:]
	for i := 0; i < 3 && len(d) > 0; i++ {
		in := decode(d, addr)
		if in.bad {
			return "", false
		}
		if in.ripRel && in.stops {
			r, ok := b.relocs[in.target]
			return r.name, ok && r.name != ""
		}
		d, addr = d[in.next-addr:], in.next
	}
	return "", false
}

// rangeAt returns the index of the range holding addr, or -1.
func (b *graphBuilder) rangeAt(addr uint64) int32 {
	if b.codeSection(addr) == nil {
		return -1
	}
	i := sort.Search(len(b.starts), func(i int) bool { return b.starts[i] > addr }) - 1
	if i < 0 {
		return -1
	}
	return int32(i)
}

func (b *graphBuilder) name(n string) int32 {
	if i, ok := b.names[n]; ok {
		return i
	}
	i := int32(len(b.g.names))
	b.g.names = append(b.g.names, n)
	b.names[n] = i
	return i
}

// build finds the ranges (first pass: every branch target and taken code
// address starts one) and their edges (second pass).
func (b *graphBuilder) build() error {
	for _, s := range b.code {
		d := b.data[s]
		for addr := s.Addr; addr < s.Addr+s.Size; {
			in := decode(d[addr-s.Addr:], addr)
			if (in.branch || in.ripRel) && b.codeSection(in.target) != nil {
				b.starts = append(b.starts, in.target)
			}
			addr = in.next
		}
	}
	b.splitData()
	slices.Sort(b.starts)
	b.starts = slices.Compact(b.starts)
	// Drop starts that fall between sections (a symbol's end, or a
	// section's end): each range must lie in one section.
	b.starts = slices.DeleteFunc(b.starts, func(a uint64) bool { return b.codeSection(a) == nil })
	if len(b.starts) > maxGraphRanges {
		return fmt.Errorf("more than %d code ranges", maxGraphRanges)
	}
	n := len(b.starts)
	g := b.g
	g.edges, g.refs, g.opaque = make([][]int32, n), make([][]int32, n), make([]bool, n)
	entered := make([]bool, n)
	edge := func(from int, to int32) {
		if to >= 0 && int(to) != from {
			g.edges[from] = append(g.edges[from], to)
			entered[to] = true
		}
	}
	g.blocks = len(b.blocks)
	g.dataRefs = make([][]int32, n)
	g.blockCode, g.blockData = make([][]int32, g.blocks), make([][]int32, g.blocks)
	// A reference to a code, GOT or data address: the range, the symbol
	// or the data blocks.
	ref := func(from int, addr uint64) {
		if name, ok := b.pltName(addr); ok {
			g.refs[from] = append(g.refs[from], b.name(name))
			return
		}
		if r, ok := b.relocs[addr]; ok && sectionAt(b.got, addr) != nil {
			if r.name != "" {
				g.refs[from] = append(g.refs[from], b.name(r.name))
			}
			if t, ok := r.target(); ok {
				edge(from, b.rangeAt(t))
				g.dataRefs[from] = b.blocksNear(g.dataRefs[from], t)
			}
			return
		}
		edge(from, b.rangeAt(addr))
		g.dataRefs[from] = b.blocksNear(g.dataRefs[from], addr)
	}
	for i, start := range b.starts {
		s := b.codeSection(start)
		end := s.Addr + s.Size
		if i+1 < n && b.starts[i+1] < end {
			end = b.starts[i+1]
		}
		d := b.data[s]
		var last insn
		for addr := start; addr < end; {
			in := decode(d[addr-s.Addr:end-s.Addr], addr)
			if in.bad {
				g.opaque[i] = true
			}
			if in.branch || in.ripRel {
				ref(i, in.target)
			}
			if in.hasImm && b.codeSection(in.immCode) != nil {
				edge(i, b.rangeAt(in.immCode))
			}
			if !in.padding {
				last = in
			}
			addr = in.next
		}
		if !b.ends[end] && !last.stops && i+1 < n && b.starts[i+1] == end {
			edge(i, int32(i+1))
		}
		if s.Name == ".init" || s.Name == ".fini" {
			g.always = append(g.always, int32(i))
		}
	}
	// Data. A code address or symbol stored outside the GOT counts with
	// the data block holding it (blocks, splitData), except where it
	// counts once loaded: a symbol stored by name (it may be another
	// object's; a personality routine's DW.ref slot is read by the
	// unwinder, not by code), an ifunc relocation, and a slot in code
	// (a text relocation) or outside every section. Blocks that count
	// once loaded: the constructor and destructor arrays, thread-local
	// data (reached through the thread pointer, not by address), and
	// every block of data other objects can read by name (exported
	// variables, vtables and typeinfo).
	for bi, a := range b.blocks {
		if d := sectionAt(b.dsecs, a); d.Type == elf.SHT_INIT_ARRAY || d.Type == elf.SHT_FINI_ARRAY ||
			d.Type == elf.SHT_PREINIT_ARRAY || d.Flags&elf.SHF_TLS != 0 {
			g.blockAlways = append(g.blockAlways, int32(bi))
		}
	}
	for off, r := range b.relocs {
		if sectionAt(b.got, off) != nil && r.typ != rX8664IRelative {
			continue
		}
		switch r.typ {
		case rX8664_64, rX8664GlobDat, rX8664JumpSlot, rX8664Relative, rX8664IRelative:
		default:
			continue
		}
		if r.name != "" {
			g.alwaysN = append(g.alwaysN, b.name(r.name))
		}
		t, ok := r.target()
		if !ok {
			continue
		}
		slot := b.blockAt(off)
		if j := b.rangeAt(t); j >= 0 {
			entered[j] = true
			if slot < 0 || r.name != "" || r.typ == rX8664IRelative {
				g.always = append(g.always, j)
			} else {
				g.blockCode[slot] = append(g.blockCode[slot], j)
			}
		}
		if d := b.blockAt(t); d >= 0 {
			if slot < 0 || r.name != "" {
				g.blockAlways = append(g.blockAlways, d)
			} else {
				g.blockData[slot] = append(g.blockData[slot], d)
			}
		}
	}
	dsyms, _ := b.f.DynamicSymbols()
	for _, s := range dsyms {
		t := elf.ST_TYPE(s.Info)
		if s.Section == elf.SHN_UNDEF || elf.ST_BIND(s.Info) == elf.STB_LOCAL || (t != elf.STT_OBJECT && t != elf.STT_TLS && t != elf.STT_COMMON) {
			continue
		}
		for d := b.blockAt(s.Value); d >= 0; d++ {
			g.blockAlways = append(g.blockAlways, d)
			if int(d)+1 >= len(b.blocks) || b.blocks[d+1] >= s.Value+s.Size {
				break
			}
		}
	}
	// Exports enter their ranges.
	syms, _ := b.f.DynamicSymbols()
	for _, s := range syms {
		t := elf.ST_TYPE(s.Info)
		bind := elf.ST_BIND(s.Info)
		vis := elf.ST_VISIBILITY(s.Other)
		if (t != elf.STT_FUNC && t != elf.STT_GNU_IFUNC) || s.Section == elf.SHN_UNDEF ||
			bind == elf.STB_LOCAL || (vis != elf.STV_DEFAULT && vis != elf.STV_PROTECTED) {
			continue
		}
		if j := b.rangeAt(s.Value); j >= 0 {
			g.exports[s.Name] = append(g.exports[s.Name], j)
			entered[j] = true
		}
	}
	// What nothing visibly enters may be entered invisibly.
	for j := range n {
		if !entered[j] && !b.padding(j) {
			g.always = append(g.always, int32(j))
		}
	}
	for j := range n {
		g.edges[j] = compactInts(g.edges[j])
		g.refs[j] = compactInts(g.refs[j])
		g.dataRefs[j] = compactInts(g.dataRefs[j])
	}
	for d := range g.blocks {
		g.blockCode[d], g.blockData[d] = compactInts(g.blockCode[d]), compactInts(g.blockData[d])
	}
	g.always, g.alwaysN, g.blockAlways = compactInts(g.always), compactInts(g.alwaysN), compactInts(g.blockAlways)
	return nil
}

// dataSlack is how far past an address the code refers to a data
// reference also reaches: code that indexes an array from one element
// before its start (a[i-1], compiled as (a-8)+8*i) refers to an address
// in the block before the array.
const dataSlack = 256

// splitData cuts the data sections into blocks (b.blocks): a block starts
// at each section's start, at each address a relocation stores (what
// data points to is the start of an object), and at each start and end
// of a dynamic symbol (exact bounds). Code that refers to a block can
// read the pointers in it, and so reach what they point to; pointers in
// blocks nothing reachable refers to do not count.
func (b *graphBuilder) splitData() {
	for _, d := range b.dsecs {
		b.blocks = append(b.blocks, d.Addr)
	}
	for _, r := range b.relocs {
		if t, ok := r.target(); ok && sectionAt(b.dsecs, t) != nil {
			b.blocks = append(b.blocks, t)
		}
	}
	syms, _ := b.f.DynamicSymbols()
	for _, s := range syms {
		if s.Section == elf.SHN_UNDEF {
			continue
		}
		for _, a := range []uint64{s.Value, s.Value + s.Size} {
			if sectionAt(b.dsecs, a) != nil {
				b.blocks = append(b.blocks, a)
			}
		}
	}
	slices.Sort(b.blocks)
	b.blocks = slices.Compact(b.blocks)
}

// blockAt returns the index of the data block holding addr, or -1.
func (b *graphBuilder) blockAt(addr uint64) int32 {
	if sectionAt(b.dsecs, addr) == nil {
		return -1
	}
	return int32(sort.Search(len(b.blocks), func(i int) bool { return b.blocks[i] > addr }) - 1)
}

// blocksNear appends to refs the block holding addr, where code refers,
// and every block that starts up to dataSlack bytes after addr, in any
// section: the compiler places objects of different sections next to
// each other.
func (b *graphBuilder) blocksNear(refs []int32, addr uint64) []int32 {
	if d := b.blockAt(addr); d >= 0 {
		refs = append(refs, d)
	}
	for i := sort.Search(len(b.blocks), func(i int) bool { return b.blocks[i] > addr }); i < len(b.blocks) && b.blocks[i] <= addr+dataSlack; i++ {
		refs = append(refs, int32(i))
	}
	return refs
}

// padding reports whether range j holds only nops and traps.
func (b *graphBuilder) padding(j int) bool {
	start := b.starts[j]
	s := b.codeSection(start)
	end := s.Addr + s.Size
	if j+1 < len(b.starts) && b.starts[j+1] < end {
		end = b.starts[j+1]
	}
	d := b.data[s]
	for addr := start; addr < end; {
		in := decode(d[addr-s.Addr:end-s.Addr], addr)
		if !in.padding {
			return false
		}
		addr = in.next
	}
	return true
}

func compactInts(v []int32) []int32 {
	slices.Sort(v)
	return slices.Clip(slices.Compact(v))
}

// Mapped is one object mapped by the workload, as Reachable sees it.
type Mapped struct {
	Kind    Kind
	Imports []string
	// Graph is the object's call graph; nil if it could not be built
	// (all its imports count).
	Graph *Graph
}

// Reachable returns, for each object mapped together by a workload, the
// imports its code can reach, and whether they were narrowed by the call
// graph (false: all its imports, unchanged).
//
// The roots are all the imports of programs, of objects without a call
// graph, and of Go and static programs, the exports of every library no
// object needs (DT_NEEDED: it was dlopen'ed, and dlsym can return any of
// them), and the code and data every library runs or may read once loaded
// (see Graph). A reached data block reaches the functions and blocks its
// pointers hold. An import reached in one object reaches the function of
// that name in every object that exports it, and through its graph the
// imports that function can reach, and so on. The C library's own code is
// not followed: the libc table maps each import of it to its syscalls.
func Reachable(objs []Mapped) (imports [][]string, narrowed []bool) {
	imports, narrowed = make([][]string, len(objs)), make([]bool, len(objs))
	needed := map[string]bool{}
	for _, o := range objs {
		if o.Graph != nil {
			for _, n := range o.Graph.Needed {
				needed[n] = true
			}
		}
	}
	reached := map[string]bool{} // symbol names, without version
	var queue []string
	reach := func(n string) {
		n, _, _ = strings.Cut(n, "@")
		if !reached[n] {
			reached[n] = true
			queue = append(queue, n)
		}
	}
	type objRange struct{ obj, rng int }
	var work []objRange
	seen := make([][]bool, len(objs))
	visit := func(o int, r int32) {
		if !seen[o][r] {
			seen[o][r] = true
			work = append(work, objRange{o, int(r)})
		}
	}
	seenData := make([][]bool, len(objs))
	var data []objRange // blocks to follow
	visitData := func(o int, d int32) {
		if !seenData[o][d] {
			seenData[o][d] = true
			data = append(data, objRange{o, int(d)})
		}
	}
	graphed := func(o Mapped) bool {
		return o.Kind == KindImports && o.Graph != nil && o.Graph.edges != nil
	}
	for i, o := range objs {
		switch {
		case o.Kind == KindLibc:
		case !graphed(o):
			for _, im := range o.Imports {
				reach(im)
			}
		default:
			g := o.Graph
			seen[i] = make([]bool, len(g.edges))
			seenData[i] = make([]bool, g.blocks)
			for _, r := range g.always {
				visit(i, r)
			}
			for _, d := range g.blockAlways {
				visitData(i, d)
			}
			for _, n := range g.alwaysN {
				reach(g.names[n])
			}
			if g.Soname == "" || !needed[g.Soname] {
				for _, rs := range g.exports {
					for _, r := range rs {
						visit(i, r)
					}
				}
			}
		}
	}
	for len(work) > 0 || len(queue) > 0 || len(data) > 0 {
		for len(data) > 0 {
			w := data[len(data)-1]
			data = data[:len(data)-1]
			g := objs[w.obj].Graph
			for _, r := range g.blockCode[w.rng] {
				visit(w.obj, r)
			}
			for _, d := range g.blockData[w.rng] {
				visitData(w.obj, d)
			}
		}
		for len(work) > 0 {
			w := work[len(work)-1]
			work = work[:len(work)-1]
			g := objs[w.obj].Graph
			if g.opaque[w.rng] {
				for r := range g.edges {
					visit(w.obj, int32(r))
				}
				for d := range g.blocks {
					visitData(w.obj, int32(d))
				}
			}
			for _, d := range g.dataRefs[w.rng] {
				visitData(w.obj, d)
			}
			for _, r := range g.edges[w.rng] {
				visit(w.obj, r)
			}
			for _, n := range g.refs[w.rng] {
				reach(g.names[n])
			}
		}
		for len(queue) > 0 {
			n := queue[len(queue)-1]
			queue = queue[:len(queue)-1]
			for i, o := range objs {
				if graphed(o) {
					for _, r := range o.Graph.exports[n] {
						visit(i, r)
					}
				}
			}
		}
	}
	for i, o := range objs {
		if !graphed(o) {
			imports[i] = o.Imports
			continue
		}
		narrowed[i] = true
		imports[i] = []string{}
		for _, im := range o.Imports {
			if n, _, _ := strings.Cut(im, "@"); reached[n] {
				imports[i] = append(imports[i], im)
			}
		}
	}
	return imports, narrowed
}

// NarrowedNote is the note of an object whose imports Reachable narrowed
// from all to kept.
func NarrowedNote(kept, all int) string {
	return fmt.Sprintf("call graph: %d of its %d imports reachable", kept, all)
}

// graphFailedSuffix ends the note of an object whose call graph could not
// be built.
const graphFailedSuffix = ": all its imports count"

// GraphFailed reports whether an object's note (Info.Note, as kept in a
// trace) says that its call graph could not be built, so that all its
// imports count.
func GraphFailed(note string) bool {
	return strings.HasPrefix(note, "build call graph: ") && strings.HasSuffix(note, graphFailedSuffix)
}
