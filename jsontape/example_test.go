package jsontape_test

import (
	"fmt"

	"github.com/sfnenc/sfnenc/jsontape"
)

func Example() {
	src := []byte(`{"customer": {"name": "Ada", "tags": ["vip", "new"]}}`)
	doc, err := jsontape.Scan(src, jsontape.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer doc.Release()
	for n := range doc.Len() {
		start, end := doc.Raw(n)
		fmt.Printf("%d %-8s %-20q %s\n", n, doc.Kind(n), doc.Pointer(n), src[start:end])
	}

	// A document with a repeated name is refused: readers would disagree
	// about which value it holds.
	_, err = jsontape.Scan([]byte(`{"a": 1, "\u0061": 2}`), jsontape.Limits{})
	fmt.Println(err)
	// Output:
	// 0 object   ""                   {"customer": {"name": "Ada", "tags": ["vip", "new"]}}
	// 1 object   "/customer"          {"name": "Ada", "tags": ["vip", "new"]}
	// 2 string   "/customer/name"     "Ada"
	// 3 array    "/customer/tags"     ["vip", "new"]
	// 4 string   "/customer/tags/0"   "vip"
	// 5 string   "/customer/tags/1"   "new"
	// jsontape: duplicate object member name at offset 9 (JSON pointer "/a")
}
