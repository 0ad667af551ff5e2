package codec

import (
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

// binding is the business-key value of one rule in one document.
type binding struct {
	kind  byte // format.BindString or BindNumber; 0 for a rule without Bind
	value []byte
	at    int // byte offset of the value in the document
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
	if r.bind == nil {
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
	ms, err := fieldpath.Select(doc, []*fieldpath.Selector{r.bind})
	if err != nil {
		return binding{}, fmt.Errorf("codec: %w", err)
	}
	missing := fmt.Errorf("%w: no plain string or number at %s (rule of class %s)", ErrBinding, r.bind, r.class)
	if len(ms) != 1 {
		return binding{}, missing
	}
	n := ms[0].Node
	switch doc.Kind(n) {
	case jsontape.String:
		var buf []byte
		if _, isTok := tokenText(doc, src, n, &buf); isTok {
			return binding{}, missing
		}
		start, _ := doc.Raw(n)
		return binding{kind: format.BindString, value: doc.AppendString(nil, n), at: start}, nil
	case jsontape.Number:
		start, end := doc.Raw(n)
		return binding{kind: format.BindNumber, value: append([]byte(nil), src[start:end]...), at: start}, nil
	}
	return binding{}, missing
}

// esdkContext returns the encryption context of an ESDK-mode token of r:
// the key context, with the binding if there is one.
func (r *rule) esdkContext(b binding) map[string]string {
	if b.kind == 0 {
		return r.kctx
	}
	m := make(map[string]string, len(r.kctx)+1)
	for k, v := range r.kctx {
		m[k] = v
	}
	m[format.BindingKey] = string(b.kind) + ":" + string(b.value)
	return m
}
