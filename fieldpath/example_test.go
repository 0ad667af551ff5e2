package fieldpath_test

import (
	"fmt"
	"log"

	"github.com/sfnenc/sfnenc/fieldpath"
)

func Example() {
	src := []byte(`{"customer": {"name": "Ada", "ssn": "123-45-6789"}, "items": [{"sku": "A1"}, {"sku": "B2"}]}`)
	doc, err := fieldpath.Scan(src, fieldpath.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer doc.Release()

	var sels []*fieldpath.Selector
	for _, expr := range []string{"$..ssn", "$.items[-1]"} {
		sel, err := fieldpath.Parse(expr)
		if err != nil {
			fmt.Println(err)
			return
		}
		sels = append(sels, sel)
	}
	matches, err := doc.Select(sels)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range matches {
		start, end := doc.Raw(m.Node)
		fmt.Printf("%s %s %s (%s)\n", sels[m.Selector], doc.NormalizedPath(m.Node), src[start:end], doc.Kind(m.Node))
	}

	// A document with a repeated name is refused: readers would disagree
	// about which value it holds.
	_, err = fieldpath.Scan([]byte(`{"a": 1, "\u0061": 2}`), fieldpath.Limits{})
	fmt.Println(err)
	// Output:
	// $..ssn $['customer']['ssn'] "123-45-6789" (string)
	// $.items[-1] $['items'][1] {"sku": "B2"} (object)
	// fieldpath: duplicate object member name at offset 9 (JSON pointer "/a")
}
