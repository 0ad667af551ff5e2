package fieldpath

import "testing"

func TestSmoke(t *testing.T) {
	d, err := Scan([]byte(` {"a": [1, {"b/c": "x\u0041"}, true], "d~": null} `), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < d.Len(); n++ {
		s, e := d.Raw(n)
		t.Logf("%d %v %q parent=%d ptr=%q np=%q str=%q", n, d.Kind(n), d.src[s:e], d.Parent(n), d.Pointer(n), d.NormalizedPath(n), d.AppendString(nil, n))
	}
	for _, q := range []string{"$..*", "$.a[-1]", "$.a[::-1]", "$..['b/c']", "$.a[?@ == 1]", "$[*]"} {
		s, err := Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		t.Log(q, d.Select([]*Selector{s}))
	}
	_, err = Scan([]byte(`{"a": {"b": 1, "\u0062": 2}}`), Limits{})
	t.Log(err)
	_, err = Scan([]byte(`[1, 2,]`), Limits{})
	t.Log(err)
}
