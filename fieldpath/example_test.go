package fieldpath_test

import (
	"fmt"
	"log"

	"github.com/sfnenc/sfnenc/fieldpath"
	"github.com/sfnenc/sfnenc/jsontape"
)

func Example() {
	src := []byte(`{"customer": {"name": "Ada", "ssn": "123-45-6789"}, "items": [{"sku": "A1"}, {"sku": "B2"}]}`)
	doc, err := jsontape.Scan(src, jsontape.Limits{})
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
	matches, err := fieldpath.Select(doc, sels)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range matches {
		start, end := doc.Raw(m.Node)
		fmt.Printf("%s %s %s (%s)\n", sels[m.Selector], doc.NormalizedPath(m.Node), src[start:end], doc.Kind(m.Node))
	}

	// Output:
	// $..ssn $['customer']['ssn'] "123-45-6789" (string)
	// $.items[-1] $['items'][1] {"sku": "B2"} (object)
}
