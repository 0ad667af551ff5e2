package jsontape

import (
	"hash/maphash"
	"math"
	"slices"
	"strconv"
)

// A Fingerprinter computes fingerprints of JSON values: equal values have
// equal fingerprints whatever their spelling (whitespace, the order of object
// members, string escapes, the spelling of a number), and different values
// have different ones but with a negligible chance. Numbers are compared as
// float64, so numbers that round to the same double are taken as equal.
// Fingerprints are seeded per Fingerprinter: they are not stable across
// processes and cannot be precomputed by anyone who does not know the seed.
// A Fingerprinter is safe for concurrent use.
type Fingerprinter struct{ seed maphash.Seed }

// NewFingerprinter returns a Fingerprinter with a random seed.
func NewFingerprinter() *Fingerprinter { return &Fingerprinter{seed: maphash.MakeSeed()} }

// Kind tags, so that values of different types never share a fingerprint.
const (
	tagString = 's'
	tagNumber = 'n'
	tagName   = 'k'
)

// String returns the fingerprint of a JSON string whose decoded content is s,
// as Document.Fingerprints computes it for a String node.
func (f *Fingerprinter) String(s []byte) uint64 {
	return mix(maphash.Bytes(f.seed, s) ^ tagString)
}

func (f *Fingerprinter) name(s []byte) uint64 {
	return mix(maphash.Bytes(f.seed, s) ^ tagName<<32)
}

func (f *Fingerprinter) number(raw []byte) uint64 {
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil { // out of range: keep the spelling
		return mix(maphash.Bytes(f.seed, raw) ^ tagNumber<<40)
	}
	if v == 0 {
		v = 0 // -0 is 0
	}
	return maphash.Comparable(f.seed, struct {
		tag  byte
		bits uint64
	}{tagNumber, math.Float64bits(v)})
}

// mix is a bijective 64-bit finaliser (from SplitMix64), so that sums of
// mixed values do not cancel out in simple ways.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Fingerprints appends the fingerprint of every node of d, in node order, to
// dst and returns it. An object's fingerprint depends on the set of its
// members (name and value) and not on their order; an array's on its
// elements and their order.
func (d *Document) Fingerprints(f *Fingerprinter, dst []uint64) []uint64 {
	nodes := d.t.nodes
	base := len(dst)
	// One allocation: the fingerprints, then the sums of each
	// container's children.
	dst = slices.Grow(dst, 2*len(nodes))[:base+2*len(nodes)]
	fp, sums := dst[base:base+len(nodes)], dst[base+len(nodes):]
	clear(sums)
	var buf []byte
	// Children follow their parent, so a reverse walk sees every child
	// before its parent and can add it into the parent's sum.
	for n := len(nodes) - 1; n >= 0; n-- {
		nd := &nodes[n]
		var v uint64
		switch nd.kind {
		case Null, False, True:
			v = mix(uint64(nd.kind) ^ uint64(f.String(nil)))
		case Number:
			v = f.number(d.src[nd.start:nd.end])
		case String:
			raw := d.src[nd.start+1 : nd.end-1]
			if nd.flags&flagEscaped != 0 {
				buf = appendUnescaped(buf[:0], raw)
				raw = buf
			}
			v = f.String(raw)
		case Object:
			v = mix(sums[n] ^ 0x6f626a) // "obj"
		case Array:
			v = mix(sums[n]+uint64(nd.count)) ^ 0x617272 // "arr"
		}
		fp[n] = v
		if p := nd.parent; p >= 0 {
			if nd.keyEnd != 0 {
				name := d.src[nd.key:nd.keyEnd]
				if nd.flags&flagKeyEscaped != 0 {
					buf = appendUnescaped(buf[:0], name)
					name = buf
				}
				sums[p] += mix(f.name(name) ^ mix(v))
			} else {
				sums[p] += mix(v + mix(uint64(nd.key)+1))
			}
		}
	}
	return dst[:base+len(nodes)]
}
