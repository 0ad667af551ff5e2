package codec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sfnenc/sfnenc/fieldpath"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/jsontape"
)

// ErrContract marks a document that breaks the rules' contract (see Scope).
// A *ContractError wraps it.
var ErrContract = errors.New("codec: the document breaks the rules' contract")

// ContractError reports where a document breaks the rules' contract. It
// names the place and the classes, never a value.
type ContractError struct {
	Pointer string // RFC 6901 pointer of the offending value or object
	Class   string // the class the rule expects there
	Found   string // what is there instead, e.g. "plaintext"
}

func (e *ContractError) Error() string {
	return fmt.Sprintf("codec: %s at %s, where the rules expect a token of class %s", e.Found, where(e.Pointer), e.Class)
}

// Unwrap returns ErrContract.
func (e *ContractError) Unwrap() error { return ErrContract }

// A Scope is the two-way contract of one function that reads a document by
// the rules, works on the plaintext and writes a result: one Lambda
// invocation. Scope.Decrypt opens only the tokens at paths that a rule of
// the token's class selects, leaves every other token as it is, and refuses
// plaintext or a token of another class where a rule selects a value.
// Scope.Encrypt encrypts the result by the rules and, wherever else the
// result holds a value that Scope.Decrypt opened, seals it again as its
// class. SECURITY.md ("The middleware's contract") says what this
// guarantees and what it cannot see.
//
// A Scope remembers fingerprints of the values it opened (keyed hashes, not
// the values). Use one per invocation; it is not safe for concurrent use.
type Scope struct {
	c           *Codec
	acceptPlain bool
	writes      map[string]bool // nil: every class
	whole       map[uint64]int  // fingerprint of an opened value -> rule index
	strs        map[uint64]int  // fingerprint of a non-empty string in one -> rule index
	orig        originals       // the tokens opened values came from
}

// A ScopeOption changes what a Scope accepts.
type ScopeOption func(*Scope)

// AcceptPlaintext lets Scope.Decrypt accept plaintext where a rule selects a
// value (a token of another class there is still refused). It is for the
// first function of a workflow whose input comes from a caller that does
// not encrypt; the values it accepts are then guarded as if decrypted.
func AcceptPlaintext() ScopeOption { return func(s *Scope) { s.acceptPlain = true } }

// WritesOnly lets Scope.Encrypt make new tokens of the classes named only:
// a result that would need a token of another class fails with a
// *WriteError (wrapping ErrWriteNotAllowed) that names the class, before
// any key service call, so that a function without the grant to write a
// class fails with a clear error rather than with the key service's access
// denial. A token of another class that the result passes on unchanged is
// not a write. With no classes, the Scope writes none.
func WritesOnly(classes ...string) ScopeOption {
	return func(s *Scope) {
		s.writes = make(map[string]bool, len(classes))
		for _, c := range classes {
			s.writes[c] = true
		}
	}
}

// ErrWriteNotAllowed marks a result that needs a new token of a class
// the Scope may not write (WritesOnly). A *WriteError wraps it.
var ErrWriteNotAllowed = errors.New("codec: the scope may not write this class")

// WriteError reports where a result needs a new token of a class the Scope
// may not write. It names the place and the class, never a value.
type WriteError struct {
	Pointer string // RFC 6901 pointer of the value to seal
	Class   string
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("codec: the value at %s needs a new token of class %s, which this scope may not write", where(e.Pointer), e.Class)
}

// Unwrap returns ErrWriteNotAllowed.
func (e *WriteError) Unwrap() error { return ErrWriteNotAllowed }

// NewScope returns a Scope for one invocation.
func (c *Codec) NewScope(opts ...ScopeOption) *Scope {
	s := &Scope{c: c}
	for _, o := range opts {
		o(s)
	}
	return s
}

// span is a value that a pass of Scope.Decrypt spliced into its output, and
// the pointer to report for anything inside it.
type span struct {
	start, end int
	ptr        string
}

// Decrypt returns src with the tokens at paths that a rule of their class
// selects replaced by their values; a token inside a decrypted value is
// opened if a rule of its own class selects its path in the decrypted
// document. Need to know (WithClasses) applies. It fails with a
// *ContractError wrapping ErrContract when a rule selects plaintext (unless
// AcceptPlaintext) or a token of another class, or when an object member's
// name differs from a selected name only in case (encoding/json would read
// it as the selected name). Absent values and null are fine.
func (s *Scope) Decrypt(ctx context.Context, src []byte) ([]byte, error) {
	c := s.c
	d := decryptor{c: c, ctx: ctx, rep: reportFrom(ctx), flat: true}
	defer d.wipe()
	doc, err := jsontape.Scan(src, c.limits)
	if err != nil {
		return nil, c.docError(err, true, len(src))
	}
	d.binds = newBindings(doc, src)
	out, fresh, err := s.first(&d, doc, src)
	doc.Release()
	if err != nil {
		return nil, err
	}
	final := len(fresh) > 0 || s.acceptPlain
	for level := 1; len(fresh) > 0; level++ {
		if level > maxTokenNesting {
			return nil, &TokenError{Pointer: fresh[0].ptr, Err: fmt.Errorf("%w: tokens nested over %d levels", ErrMalformedToken, maxTokenNesting)}
		}
		if out, fresh, err = s.nested(&d, out, fresh); err != nil {
			return nil, err
		}
	}
	if final {
		if err := s.fingerprintSelected(out); err != nil {
			return nil, err
		}
	}
	return cloneIfSame(out, src), nil
}

// first is the pass of Scope.Decrypt over the document as it came. It
// returns the output and the spans of values it spliced in that hold tokens
// themselves.
func (s *Scope) first(d *decryptor, doc *jsontape.Document, src []byte) ([]byte, []span, error) {
	c := s.c
	sel, err := fieldpath.Select(doc, c.sels)
	if err != nil {
		return nil, nil, fmt.Errorf("codec: %w", err)
	}
	// Also with AcceptPlaintext: a member in another case would reach a
	// typed handler as the selected one, and leave unencrypted.
	if err := c.checkNames(doc, src); err != nil {
		return nil, nil, err
	}
	if err := s.holdWidened(doc, src, sel); err != nil {
		return nil, nil, err
	}
	sp := jsontape.NewSplicer(nil, src, len(src))
	var next []span
	skipTo := 0 // nodes below it are inside a selected plaintext value
	for n, k := 0, 0; n < doc.Len(); n++ {
		selected := k < len(sel) && sel[k].Node == n
		var ri int
		if selected {
			ri = c.selRule[sel[k].Selector]
			k++
		}
		kind := doc.Kind(n)
		var text []byte
		isTok := false
		if kind == jsontape.String {
			text, isTok = tokenText(doc, src, n, &d.text)
		}
		if !isTok {
			if selected && kind != jsontape.Null && n >= skipTo {
				if !s.acceptPlain {
					return nil, nil, &ContractError{Pointer: doc.Pointer(n), Class: c.rules[ri].class, Found: describe(doc, src, n)}
				}
				skipTo = doc.End(n)
			}
			continue
		}
		at := place{doc: doc, n: n}
		var class string
		decoded := false
		if d.sameHeader(text) {
			class = d.last.class // the rest is checked when it is opened
		} else {
			if d.body, err = d.tok.Decode(text, d.body); err != nil {
				terr := &TokenError{Pointer: at.pointer(), Err: wrapMalformed(err)}
				d.rep.addAt(Failed, "", terr.Pointer, terr.Err)
				return nil, nil, terr
			}
			class, decoded = d.tok.Class, true
		}
		if selected && class != c.rules[ri].class {
			return nil, nil, &ContractError{Pointer: at.pointer(), Class: c.rules[ri].class, Found: "a token of class " + class}
		}
		if !selected || (c.allow != nil && !c.allow[class]) {
			d.rep.addPlace(PassedThrough, class, at)
			continue
		}
		val, err := s.open(d, text, at, doc.Depth(n), ri, decoded)
		if err != nil {
			return nil, nil, err
		}
		out := sp.Cut(doc.Raw(n))
		if hasPrefix(val) {
			next = append(next, span{start: len(out), end: len(out) + len(val), ptr: at.pointer()})
		}
		sp.Fill(append(out, val...))
	}
	return sp.Bytes(), next, nil
}

// open decrypts one token for a Scope and records its value's fingerprints
// (if it holds no token; else the final pass does).
func (s *Scope) open(d *decryptor, text []byte, at place, depth, ri int, decoded bool) ([]byte, error) {
	val, terr := d.tokenDecoded(text, at, depth, 0, decoded)
	if terr != nil {
		d.rep.addAt(Failed, terr.Class, terr.Pointer, terr.Err)
		return nil, terr
	}
	d.rep.addPlace(Decrypted, s.c.rules[ri].class, at)
	if !hasPrefix(val) {
		if err := s.fingerprint(val, ri); err != nil {
			return nil, &TokenError{Pointer: at.pointer(), Class: s.c.rules[ri].class, Err: errNotJSON}
		}
		// The binding was read when the token opened (openWith).
		b, _ := d.binds.of(s.c.rules[ri])
		if err := s.remember(ri, val, text, b); err != nil {
			return nil, &TokenError{Pointer: at.pointer(), Class: s.c.rules[ri].class, Err: errNotJSON}
		}
	}
	return val, nil
}

// nested is a pass of Scope.Decrypt over the tokens inside the values that
// the previous pass spliced in (fresh): each opens if a rule of its own
// class selects its path in the document as it now is. Everything reported
// names the pointer of the outermost token.
func (s *Scope) nested(d *decryptor, src []byte, fresh []span) ([]byte, []span, error) {
	c := s.c
	doc, err := jsontape.Scan(src, c.limits)
	if err != nil {
		return nil, nil, c.docError(err, false, len(src))
	}
	defer doc.Release()
	// Business keys lie outside encrypted values: read them here.
	d.binds = newBindings(doc, src)
	bySel := map[int]map[int]bool{} // rule index -> nodes its selectors select
	selects := func(ri, n int) (bool, error) {
		set, ok := bySel[ri]
		if !ok {
			set = map[int]bool{}
			for i, sl := range c.sels {
				if c.selRule[i] != ri {
					continue
				}
				ms, err := fieldpath.Select(doc, []*fieldpath.Selector{sl})
				if err != nil {
					return false, fmt.Errorf("codec: %w", err)
				}
				for _, m := range ms {
					set[m.Node] = true
				}
			}
			bySel[ri] = set
		}
		return set[n], nil
	}
	sp := jsontape.NewSplicer(nil, src, len(src))
	var next []span
	f := 0
	for n := 0; n < doc.Len(); n++ {
		if doc.Kind(n) != jsontape.String {
			continue
		}
		start, end := doc.Raw(n)
		for f < len(fresh) && fresh[f].end <= start {
			f++
		}
		if f == len(fresh) {
			break
		}
		if start < fresh[f].start {
			continue // outside the new values: seen by an earlier pass
		}
		text, isTok := tokenText(doc, src, n, &d.text)
		if !isTok {
			continue
		}
		ptr := fresh[f].ptr
		if d.body, err = d.tok.Decode(text, d.body); err != nil {
			terr := &TokenError{Pointer: ptr, Err: wrapMalformed(err)}
			d.rep.addAt(Failed, "", ptr, terr.Err)
			return nil, nil, terr
		}
		class := d.tok.Class
		ri := c.ruleIndexOf(class)
		ok := ri >= 0 && (c.allow == nil || c.allow[class])
		if ok {
			if ok, err = selects(ri, n); err != nil {
				return nil, nil, err
			}
		}
		if !ok {
			d.rep.addAt(PassedThrough, class, ptr, nil)
			continue
		}
		val, err := s.open(d, text, place{ptr: ptr}, doc.Depth(n), ri, true)
		if err != nil {
			return nil, nil, err
		}
		out := sp.Cut(start, end)
		if hasPrefix(val) {
			next = append(next, span{start: len(out), end: len(out) + len(val), ptr: ptr})
		}
		sp.Fill(append(out, val...))
	}
	return sp.Bytes(), next, nil
}

// wideOnly returns the nodes that the rules' widened selectors select (see
// Codec.strict) and their selectors do not: where a filter decided against
// selecting a value, on values a payload editor may have written. exact is
// the selection by the selectors themselves. It returns nil if no selector
// has a filter.
func (c *Codec) wideOnly(doc *jsontape.Document, exact []fieldpath.Match) ([]fieldpath.Match, error) {
	if c.strict == nil {
		return nil, nil
	}
	wide, err := fieldpath.Select(doc, c.strict)
	if err != nil {
		return nil, fmt.Errorf("codec: %w", err)
	}
	out := wide[:0]
	k := 0
	for _, m := range wide {
		for k < len(exact) && exact[k].Node < m.Node {
			k++
		}
		if k < len(exact) && exact[k].Node == m.Node {
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

// holdWidened holds strict reads where a rule's filter may have chosen not
// to select a value: whatever the filtered values say, a value that the
// widened selector selects must be a token of a class whose rule widely
// selects it, null, or absent (or, with AcceptPlaintext, any value, then
// guarded like the rest). It is not decrypted there: only the selectors
// themselves decide that. Otherwise a payload editor could change the value
// a filter tests (a role of "Primary" instead of "primary") and pass
// plaintext of their choosing to the handler where the rule expects a
// token.
func (s *Scope) holdWidened(doc *jsontape.Document, src []byte, exact []fieldpath.Match) error {
	c := s.c
	wide, err := c.wideOnly(doc, exact)
	if err != nil || len(wide) == 0 {
		return err
	}
	var buf, body []byte
	var tok format.Token
	for _, m := range wide {
		n, class := m.Node, c.rules[c.selRule[m.Selector]].class
		switch doc.Kind(n) {
		case jsontape.Null:
			continue
		case jsontape.String:
			text, isTok := tokenText(doc, src, n, &buf)
			if !isTok {
				break
			}
			if body, err = tok.Decode(text, body); err != nil {
				continue // malformed: the pass over every token reports it
			}
			if tok.Class == class {
				continue
			}
			ok, err := c.widelySelects(doc, tok.Class, n)
			if err != nil {
				return err
			}
			if ok {
				continue
			}
			return &ContractError{Pointer: doc.Pointer(n), Class: class, Found: "a token of class " + tok.Class}
		}
		if !s.acceptPlain {
			return &ContractError{Pointer: doc.Pointer(n), Class: class, Found: describe(doc, src, n)}
		}
	}
	return nil
}

// widelySelects reports whether a widened selector of the rule of class
// selects node n of doc.
func (c *Codec) widelySelects(doc *jsontape.Document, class string, n int) (bool, error) {
	ri := c.ruleIndexOf(class)
	if ri < 0 {
		return false, nil
	}
	for i, sel := range c.strict {
		if c.selRule[i] != ri {
			continue
		}
		ms, err := fieldpath.Select(doc, []*fieldpath.Selector{sel})
		if err != nil {
			return false, fmt.Errorf("codec: %w", err)
		}
		for _, m := range ms {
			if m.Node == n {
				return true, nil
			}
		}
	}
	return false, nil
}

// describe names what node n of doc is, for a ContractError, without its
// value: "plaintext" for a string, number or boolean; for an object or an
// array its size and how many of its members are tokens, since one that
// ASL built from a function's result often holds tokens.
func describe(doc *jsontape.Document, src []byte, n int) string {
	var what, unit string
	switch doc.Kind(n) {
	case jsontape.Object:
		what, unit = "an object", "member"
	case jsontape.Array:
		what, unit = "an array", "element"
	default:
		return "plaintext"
	}
	count, tokens := 0, 0
	var buf []byte
	for m, end := n+1, doc.End(n); m < end; m = doc.End(m) {
		count++
		if doc.Kind(m) == jsontape.String {
			if _, isTok := tokenText(doc, src, m, &buf); isTok {
				tokens++
			}
		}
	}
	plural := func(k int, u string) string {
		if k == 1 {
			return "1 " + u
		}
		return fmt.Sprintf("%d %ss", k, u)
	}
	out := what + " with " + plural(count, unit)
	if tokens > 0 {
		out += fmt.Sprintf(", %d of them tokens", tokens)
	}
	return out + ","
}

// checkNames refuses object members whose names differ only in case from a
// name that a rule selects: encoding/json matches names without regard to
// case, so a typed handler would read such a member as the selected one,
// while the rules (case-sensitive, as RFC 9535 is) never encrypt it.
func (c *Codec) checkNames(doc *jsontape.Document, src []byte) error {
	if len(c.names) == 0 {
		return nil
	}
	var name, buf []byte
	for n := 1; n < doc.Len(); n++ {
		if !doc.IsMember(n) {
			continue
		}
		name = doc.AppendName(name[:0], n)
		for i, sel := range c.names {
			if len(name) > 4*len(sel) || string(name) == sel || !strings.EqualFold(string(name), sel) {
				continue
			}
			switch doc.Kind(n) {
			case jsontape.Null:
				continue
			case jsontape.String:
				if _, isTok := tokenText(doc, src, n, &buf); isTok {
					continue
				}
			}
			return &ContractError{Pointer: doc.Pointer(doc.Parent(n)), Class: c.nameClass[i],
				Found: fmt.Sprintf("a member whose name differs only in case from the selected name %q", sel)}
		}
	}
	return nil
}

func hasPrefix(v []byte) bool { return strings.Contains(string(v), format.Prefix) }

// ruleIndexOf returns the index of the rule of class, or -1.
func (c *Codec) ruleIndexOf(class string) int {
	for i, r := range c.rules {
		if r.class == class {
			return i
		}
	}
	return -1
}

// fingerprint records the fingerprints of a decrypted value.
func (s *Scope) fingerprint(val []byte, ri int) error {
	if s.whole == nil {
		s.whole, s.strs = map[uint64]int{}, map[uint64]int{}
	}
	// The common case, a string without escapes, needs no scan: its
	// fingerprint as a whole value and as a string are the same.
	if len(val) > 2 && val[0] == '"' && val[len(val)-1] == '"' && bytes.IndexByte(val, '\\') < 0 {
		content := val[1 : len(val)-1]
		if format.IsToken(content) {
			return nil
		}
		fp := s.c.fp.String(content)
		putFirst(s.whole, fp, ri)
		putFirst(s.strs, fp, ri)
		return nil
	}
	doc, err := jsontape.Scan(val, jsontape.Limits{MaxSize: len(val) + 1, MaxDepth: s.c.maxDepth()})
	if err != nil {
		return err
	}
	defer doc.Release()
	s.record(doc, val, doc.Fingerprints(s.c.fp, nil), 0, ri)
	return nil
}

// putFirst records fp as rule ri's unless another rule has it already.
func putFirst(m map[uint64]int, fp uint64, ri int) {
	if _, ok := m[fp]; !ok {
		m[fp] = ri
	}
}

// fingerprintSelected records the values at the rules' paths of the final
// decrypted document (values that held tokens, and accepted plaintext).
func (s *Scope) fingerprintSelected(src []byte) error {
	doc, err := s.c.scanPlain(src)
	if err != nil {
		return err
	}
	defer doc.Release()
	sels := s.c.sels
	if s.c.strict != nil {
		sels = s.c.strict // also plaintext accepted where a filter chose not to select
	}
	sel, err := fieldpath.Select(doc, sels)
	if err != nil {
		return fmt.Errorf("codec: %w", err)
	}
	if len(sel) == 0 {
		return nil
	}
	fps := doc.Fingerprints(s.c.fp, nil)
	var buf []byte
	for _, m := range sel {
		if doc.Kind(m.Node) == jsontape.String {
			if _, isTok := tokenText(doc, src, m.Node, &buf); isTok {
				continue // a class this function does not decrypt
			}
		}
		s.record(doc, src, fps, m.Node, s.c.selRule[m.Selector])
	}
	return nil
}

// record remembers node m of doc (whose text is src) and the strings inside
// it as values of rules[ri]; fps are doc's fingerprints.
func (s *Scope) record(doc *jsontape.Document, src []byte, fps []uint64, m, ri int) {
	if s.whole == nil {
		s.whole, s.strs = map[uint64]int{}, map[uint64]int{}
	}
	var buf []byte
	if guarded(doc, src, m, &buf) {
		putFirst(s.whole, fps[m], ri)
	}
	for n := m; n < doc.End(m); n++ {
		if doc.Kind(n) == jsontape.String && guarded(doc, src, n, &buf) {
			putFirst(s.strs, fps[n], ri)
		}
	}
}

// guardedOrPlain reports whether node n is a value to seal where a rule's
// widened selector selects it: anything but null and a token.
func guardedOrPlain(doc *jsontape.Document, src []byte, n int, buf *[]byte) bool {
	switch doc.Kind(n) {
	case jsontape.Null:
		return false
	case jsontape.String:
		_, isTok := tokenText(doc, src, n, buf)
		return !isTok
	}
	return true
}

// guarded reports whether a value is one the guard looks for again: not
// true, false, null or the empty string, which carry little and occur
// everywhere, and not a token.
func guarded(doc *jsontape.Document, src []byte, n int, buf *[]byte) bool {
	switch doc.Kind(n) {
	case jsontape.Null, jsontape.True, jsontape.False:
		return false
	case jsontape.String:
		start, end := doc.Raw(n)
		if end-start == 2 {
			return false
		}
		_, isTok := tokenText(doc, src, n, buf)
		return !isTok
	}
	return true
}

// Encrypt encrypts a result by the rules, like Codec.Encrypt, and also seals
// again every value (compared as JSON values: member order, spelling and
// whitespace aside) or non-empty string that s decrypted, wherever the
// result holds it outside a token, as the class it was decrypted as. An
// object member whose name equals a string that s decrypted cannot be
// sealed: Encrypt then fails with a *ContractError and returns nothing.
//
// Where a value to seal as a class is one that s decrypted from a token of
// that class, unchanged (a string by its content, any other value byte for
// byte) and under the same business key, Encrypt puts that token back
// instead of making one (GivenBack in the Report): no key service call
// and no right to write the class are needed, so a function that only
// reads a signed class can return what it read.
func (s *Scope) Encrypt(ctx context.Context, src []byte) ([]byte, error) {
	c := s.c
	doc, err := c.scanPlain(src)
	if err != nil {
		return nil, err
	}
	defer doc.Release()
	if len(s.whole) == 0 && len(s.strs) == 0 && c.strict == nil {
		return c.encrypt(ctx, doc, src, nil, nil, s)
	}
	sel, err := fieldpath.Select(doc, c.sels)
	if err != nil {
		return nil, fmt.Errorf("codec: %w", err)
	}
	// Where a filter chose not to select a value, the next function's
	// strict reads still expect a token (holdWidened): seal plaintext
	// there as the widened selector's class.
	wide, err := c.wideOnly(doc, sel)
	if err != nil {
		return nil, err
	}
	var fps []uint64
	if len(s.whole) > 0 || len(s.strs) > 0 {
		fps = doc.Fingerprints(c.fp, nil)
	}
	var extra []match
	var buf []byte
	for n, k, w := 0, 0, 0; n < doc.Len(); n++ {
		if k < len(sel) && sel[k].Node == n {
			k++
			n = doc.End(n) - 1 // sealed by its rule anyway
			continue
		}
		for w < len(wide) && wide[w].Node < n {
			w++
		}
		if w < len(wide) && wide[w].Node == n && guardedOrPlain(doc, src, n, &buf) {
			extra = append(extra, match{node: n, rule: c.selRule[wide[w].Selector], op: Made})
			n = doc.End(n) - 1
			continue
		}
		if fps == nil {
			continue
		}
		if doc.IsMember(n) {
			buf = doc.AppendName(buf[:0], n)
			if ri, ok := s.strs[c.fp.String(buf)]; ok && len(buf) > 0 {
				return nil, &ContractError{Pointer: doc.Pointer(doc.Parent(n)), Class: c.rules[ri].class,
					Found: "an object member named by a decrypted value, which cannot be sealed,"}
			}
		}
		if !guarded(doc, src, n, &buf) {
			continue
		}
		if ri, ok := s.whole[fps[n]]; ok {
			extra = append(extra, match{node: n, rule: ri, op: Resealed})
			n = doc.End(n) - 1
			continue
		}
		if doc.Kind(n) == jsontape.String {
			if ri, ok := s.strs[fps[n]]; ok {
				extra = append(extra, match{node: n, rule: ri, op: Resealed})
			}
		}
	}
	return c.encrypt(ctx, doc, src, sel, extra, s)
}
