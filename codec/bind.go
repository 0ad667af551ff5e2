package codec

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/sfnenc/sfnenc/fieldpath"
	"github.com/sfnenc/sfnenc/internal/format"
	"github.com/sfnenc/sfnenc/jsontape"
)

// ErrBinding: a rule binds its tokens to a business key (Rule.Bind), and
// the document has no plain string or number at that path. The error names
// the path.
var ErrBinding = errors.New("codec: the business key the rule binds its tokens to is missing")

// ErrContextValue: a rule takes encryption context entries from the
// document (Rule.Context), and the document has no plain string or number
// at one of their paths. The error names the path.
var ErrContextValue = errors.New("codec: a value of the rule's per-call encryption context is missing")

// binding is what one rule binds its tokens to in one document: the
// business key (Rule.Bind) and the per-call encryption context
// (Rule.Context).
type binding struct {
	kind  byte // format.BindString or BindNumber; 0 for a rule without Bind
	value []byte
	at    int // byte offset of the value in the document
	// call is the rule's key context with the document's Context
	// entries; nil for a rule without Context.
	call *callContext
}

// callContext is a rule's key context with the entries a document gives.
type callContext struct {
	kctx      map[string]string
	ctxBytes  []byte
	partition string
	at        []int // byte offsets of the values in the document
}

// keyContext returns the key context of the rule's tokens in the document:
// the KMS encryption context of their data keys.
func (b binding) keyContext(r *rule) map[string]string {
	if b.call != nil {
		return b.call.kctx
	}
	return r.kctx
}

// contextBytes returns the encoding of keyContext, for associated data.
func (b binding) contextBytes(r *rule) []byte {
	if b.call != nil {
		return b.call.ctxBytes
	}
	return r.ctxBytes
}

// partition returns the encrypt cache partition of the rule's data keys in
// the document: one per distinct key context.
func (b binding) partition(r *rule) string {
	if b.call != nil {
		return b.call.partition
	}
	return r.partition
}

// same reports whether b and o bind to the same values.
func (b binding) same(o binding) bool {
	if b.kind != o.kind || !bytes.Equal(b.value, o.value) || (b.call == nil) != (o.call == nil) {
		return false
	}
	return b.call == nil || bytes.Equal(b.call.ctxBytes, o.call.ctxBytes)
}

// offsets returns the byte offsets in the document of the values b holds.
func (b binding) offsets() []int {
	var out []int
	if b.kind != 0 {
		out = append(out, b.at)
	}
	if b.call != nil {
		out = append(out, b.call.at...)
	}
	return out
}

// bindings evaluates rules' Bind paths on one document, once per rule.
type bindings struct {
	doc  *jsontape.Document
	src  []byte
	vals map[*rule]*binding
}

func newBindings(doc *jsontape.Document, src []byte) *bindings {
	return &bindings{doc: doc, src: src}
}

// of returns the binding of rule r in the document.
func (b *bindings) of(r *rule) (binding, error) {
	if r.bind == nil && r.callCtx == nil {
		return binding{}, nil
	}
	if v, ok := b.vals[r]; ok {
		return *v, nil
	}
	v, err := bindValue(b.doc, b.src, r)
	if err != nil {
		return binding{}, err
	}
	if b.vals == nil {
		b.vals = map[*rule]*binding{}
	}
	b.vals[r] = &v
	return v, nil
}

func bindValue(doc *jsontape.Document, src []byte, r *rule) (binding, error) {
	var b binding
	if r.bind != nil {
		kind, v, at, err := plainValue(doc, src, r.bind)
		if err != nil {
			return binding{}, err
		}
		if kind == 0 {
			return binding{}, fmt.Errorf("%w: no plain string or number at %s (rule of class %s)", ErrBinding, r.bind, r.class)
		}
		b = binding{kind: kind, value: v, at: at}
	}
	if r.callCtx == nil {
		return b, nil
	}
	cc := &callContext{kctx: make(map[string]string, len(r.kctx)+len(r.callCtx))}
	for k, v := range r.kctx {
		cc.kctx[k] = v
	}
	for _, e := range r.callCtx {
		kind, v, at, err := plainValue(doc, src, e.sel)
		if err != nil {
			return binding{}, err
		}
		if kind == 0 {
			return binding{}, fmt.Errorf("%w: no plain string or number at %s (entry %q of the context of class %s)", ErrContextValue, e.sel, e.key, r.class)
		}
		if len(v) > 0xffff {
			return binding{}, fmt.Errorf("%w: the value at %s (entry %q of the context of class %s) is over 65535 bytes", ErrContextValue, e.sel, e.key, r.class)
		}
		cc.kctx[e.key] = string(v)
		cc.at = append(cc.at, at)
	}
	cc.ctxBytes = format.AppendContext(nil, cc.kctx)
	cc.partition = r.partition + "\x00" + string(cc.ctxBytes)
	b.call = cc
	return b, nil
}

// plainValue evaluates a singular selector on doc: the kind (BindString or
// BindNumber) and value (a string's content, a number's text) of a plain
// string or number there, and its byte offset; kind 0 if there is none.
func plainValue(doc *jsontape.Document, src []byte, sel *fieldpath.Selector) (kind byte, value []byte, at int, err error) {
	ms, err := fieldpath.Select(doc, []*fieldpath.Selector{sel})
	if err != nil {
		return 0, nil, 0, fmt.Errorf("codec: %w", err)
	}
	if len(ms) != 1 {
		return 0, nil, 0, nil
	}
	n := ms[0].Node
	start, end := doc.Raw(n)
	switch doc.Kind(n) {
	case jsontape.String:
		var buf []byte
		if _, isTok := tokenText(doc, src, n, &buf); isTok {
			return 0, nil, 0, nil
		}
		return format.BindString, doc.AppendString(nil, n), start, nil
	case jsontape.Number:
		return format.BindNumber, append([]byte(nil), src[start:end]...), start, nil
	}
	return 0, nil, 0, nil
}

// esdkContext returns the encryption context of an ESDK-mode token of r:
// the key context, with the binding if there is one.
func (r *rule) esdkContext(b binding) map[string]string {
	kctx := b.keyContext(r)
	if b.kind == 0 {
		return kctx
	}
	m := make(map[string]string, len(kctx)+1)
	for k, v := range kctx {
		m[k] = v
	}
	m[format.BindingKey] = string(b.kind) + ":" + string(b.value)
	return m
}
