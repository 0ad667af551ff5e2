// Package jsontape checks that a JSON document is strict JSON and records
// its values on a flat tape, without decoding it.
//
// Scan checks a document against RFC 8259 (UTF-8, no duplicate member
// names, bounded size and depth) and returns a Document: every value
// (node) in document order with its kind, its byte range in the input, its
// parent and where it sits (member name or array index). A caller that
// rewrites the document copies the bytes between the ranges it replaces, so
// every other byte stays as it was. Valid performs the same checks without
// keeping a tape.
//
// Document.Kind, Raw, Parent, End, Count, Index and IsMember walk the tape;
// Document.Member finds an object's member by name and NextWithPrefix the
// next string that begins with a prefix; Document.AppendString and
// AppendName read a string or a member name with its escapes decoded,
// NameIs compares a member name; Document.Pointer and NormalizedPath name a
// node for messages; Document.Fingerprints, with a Fingerprinter,
// recognises equal values whatever their spelling. Package fieldpath
// selects nodes of a Document by JSONPath.
//
// A Splicer writes a copy of a text with byte ranges replaced in order (the
// one way this module rewrites a document); Document.AppendSpliced writes
// a node with some of its strings given new content (Edit), and
// AppendQuoted and AppendEscaped write a JSON string.
//
// A Splitter reads a stream of any length (the elements of one JSON array,
// or JSON Lines) one record at a time, each held to the strict scan.
//
// Errors from Scan and Valid are *DocumentError values that wrap ErrSyntax,
// ErrDuplicateName, ErrInvalidUTF8, ErrTooDeep or ErrTooLarge; they give the
// byte offset and JSON Pointer of the problem and never any text of the
// document's values.
package jsontape
