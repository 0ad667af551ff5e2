package eventdata

import (
	"context"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/execdata"
	"github.com/sfnenc/sfnenc/jsontape"
)

// A Task state's service integration may wrap the document that its reader
// gets in a request or response of its own: the parameters of an
// arn:aws:states:::lambda:invoke Task are {"FunctionName": ..., "Payload":
// event}, and the function, under the middleware, reads event as its
// document and evaluates its rules' bind and context paths there; its
// result comes back as the Payload of the task's output. A token in such a
// member was made, or will be opened, in that member's document, so the
// codec must evaluate bind and context paths with the member as the root,
// and never on the wrapper, which did not hold the token where it was made.
//
// wrappers lists them: an event's field (parameters or output of the
// details) whose details name resourceType and resource, and the member of
// its JSON text that is a document of its own.
var wrappers = []struct {
	field, resourceType, resource, member string
}{
	// The function's event, for invoke and for a callback task.
	{"parameters", "lambda", "invoke", "Payload"},
	{"parameters", "lambda", "invoke.waitForTaskToken", "Payload"},
	// The function's result. A callback task's output is the callback's
	// answer itself, which wraps nothing.
	{"output", "lambda", "invoke", "Payload"},
	// A child execution's input, the document of its first state; the
	// output of .sync:2 is the child's output as JSON (that of .sync is
	// JSON text in a string, a document of its own already).
	{"parameters", "states", "startExecution", "Input"},
	{"parameters", "states", "startExecution.sync", "Input"},
	{"parameters", "states", "startExecution.sync:2", "Input"},
	{"parameters", "states", "startExecution.waitForTaskToken", "Input"},
	{"output", "states", "startExecution.sync:2", "Output"},
}

// wrappedMember returns the member of the JSON text of an event's field
// that is a document of its own, given the resourceType and resource of
// the field's details, or "" if the field wraps no document.
func wrappedMember(field, resourceType, resource string) string {
	for _, w := range wrappers {
		if w.field == field && w.resourceType == resourceType && w.resource == resource {
			return w.member
		}
	}
	return ""
}

// nodeWrappedMember is wrappedMember for string node s of doc if it is a
// member of the details object of event node n (in a history,
// /taskScheduledEventDetails/parameters; in a log event,
// /details/parameters), and "" otherwise.
func nodeWrappedMember(doc *jsontape.Document, n, s int) string {
	if !doc.IsMember(s) || !doc.NameIs(s, "parameters") && !doc.NameIs(s, "output") {
		return ""
	}
	details := doc.Parent(s)
	if doc.Parent(details) != n {
		return ""
	}
	str := func(name string) string {
		m := doc.Member(details, name)
		if m < 0 || doc.Kind(m) != jsontape.String {
			return ""
		}
		return string(doc.AppendString(nil, m))
	}
	rt := str("resourceType")
	if rt == "" {
		return ""
	}
	return wrappedMember(string(doc.AppendName(nil, s)), rt, str("resource"))
}

// wrappedText is text for the JSON text s of a field whose member (see
// wrappers) is a document of its own: that member is decrypted as a
// document, the rest of s as another, in which the member is null. A
// member that is a token is a document of its own too, which holds no
// business key: the function gets a string. If s is not a JSON object, or
// the member is absent, s is decrypted as text does. Failures and marks in
// the member have pointers from the root of s, as text gives them.
func (d *Decryptor) wrappedText(ctx context.Context, s []byte, depth int, member string) ([]byte, []execdata.Failure) {
	doc, err := jsontape.Scan(s, execdata.Limits)
	if err != nil {
		return d.text(ctx, s, depth)
	}
	m := doc.Member(0, member)
	if m < 0 {
		doc.Release()
		return d.text(ctx, s, depth)
	}
	start, end := doc.Raw(m)
	doc.Release()
	if !mayHoldToken(s[start:end]) {
		return d.text(ctx, s, depth)
	}
	inner := s[start:end]
	sp := jsontape.NewSplicer(nil, s, len(s)-(end-start)+4)
	sp.Put(start, end, []byte("null"))
	outer := sp.Bytes()

	ptr := "/" + member // member names hold neither '~' nor '/'
	outOuter, fails := d.text(ctx, outer, depth)
	ictx := ctx
	if sk := sinkFrom(ctx); sk != nil {
		ictx = withSink(ctx, &sink{marks: sk.marks, prefix: sk.prefix + ptr})
	}
	outInner, innerFails := d.text(ictx, inner, depth)
	for _, f := range innerFails {
		f.Pointer = ptr + f.Pointer
		fails = append(fails, f)
	}
	switch {
	case sameSlice(outOuter, outer) && sameSlice(outInner, inner):
		return s, fails
	case sameSlice(outOuter, outer):
		// The rest held no token to replace (the common case: the
		// function's name and the like): the member is where it was.
		sp := jsontape.NewSplicer(nil, s, len(s)-(end-start)+len(outInner))
		sp.Put(start, end, outInner)
		return sp.Bytes(), fails
	}
	// Put the member back where the null stands in the decrypted rest.
	od, err := jsontape.Scan(outOuter, execdata.Limits)
	if err != nil {
		return s, fails // cannot happen: the codec returns JSON
	}
	defer od.Release()
	om := od.Member(0, member)
	if om < 0 {
		return s, fails // cannot happen: decryption keeps member names
	}
	ostart, oend := od.Raw(om)
	sp = jsontape.NewSplicer(nil, outOuter, len(outOuter)-(oend-ostart)+len(outInner))
	sp.Put(ostart, oend, outInner)
	return sp.Bytes(), fails
}
