// Package fieldpath finds values in a JSON document by RFC 9535 JSONPath
// queries, without decoding the document.
//
// Parse compiles a JSONPath query into a Selector; Select runs a list of
// selectors on a document scanned by jsontape.Scan and returns the
// outermost selected nodes in document order. Queries without filters run
// on the document's tape; queries with filters run on the document decoded
// to Go values, with github.com/theory/jsonpath, which is also the
// reference the tape's evaluation is tested against.
//
// Parse wraps ErrSelector; Select fails, wrapping ErrEvaluation, only if a
// query with a filter could not be evaluated on the document.
package fieldpath
