// Package fieldpath finds values in a JSON document by RFC 9535 JSONPath
// queries, without decoding the document.
//
// Scan checks that a document is strict JSON (RFC 8259, UTF-8, no duplicate
// member names, bounded size and depth) and records every value on a flat
// tape: its kind, its byte range in the input, its parent and where it sits
// (member name or array index). A caller that rewrites the document copies the
// bytes between the ranges it replaces, so every other byte stays as it was.
//
// Parse compiles a JSONPath query into a Selector; Document.Select runs a list
// of selectors and returns the outermost selected nodes in document order.
// Document.AppendString reads a string value with its escapes decoded;
// Document.Pointer and Document.NormalizedPath name a node for messages.
//
// Errors from Scan are *DocumentError values that wrap ErrSyntax,
// ErrDuplicateName, ErrInvalidUTF8, ErrTooDeep or ErrTooLarge; they give the
// byte offset and JSON Pointer of the problem and never any text of the
// document's values.
package fieldpath
