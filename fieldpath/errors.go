package fieldpath

import "errors"

// Sentinel errors; test for them with errors.Is. Documents that are not
// strict JSON are refused earlier, by jsontape.Scan.
var (
	// ErrSelector means a JSONPath query is not valid RFC 9535. Parse
	// wraps it.
	ErrSelector = errors.New("fieldpath: invalid selector")

	// ErrEvaluation means a query with a filter could not be evaluated
	// on a document: the query library failed. Select then selects
	// nothing and says so, so that a caller never takes a failed
	// evaluation for "no value selected".
	ErrEvaluation = errors.New("fieldpath: selector evaluation failed")
)
