package eventdata

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"

	"github.com/sfnenc/sfnenc/cmd/sfn-decrypt/internal/execdata"
)

// Fields fills in the Data of each event: every member of its details,
// each string decrypted on its own with its tokens marked, as a reader
// that shows one field at a time needs them.
func (d *Decryptor) Fields(ctx context.Context, events []*execdata.Event) {
	for _, e := range events {
		e.Data, _ = d.details(ctx, e.Details(), true)
		if e.Data == nil {
			e.Data = []execdata.DataField{}
		}
	}
}

// details decrypts each member of an event's details (with top, its own
// members rather than its assigned variables).
func (d *Decryptor) details(ctx context.Context, details []byte, top bool) ([]execdata.DataField, error) {
	if len(details) == 0 {
		return nil, nil
	}
	var members []struct {
		name string
		raw  json.RawMessage
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(details, &m); err != nil {
		return nil, nil // not an object: nothing to show
	}
	// Keep the details' own order.
	dec := json.NewDecoder(bytes.NewReader(details))
	dec.Token()
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			break
		}
		name, _ := t.(string)
		var raw json.RawMessage
		if dec.Decode(&raw) != nil {
			break
		}
		members = append(members, struct {
			name string
			raw  json.RawMessage
		}{name, raw})
	}
	truncated := func(name string) bool {
		var td struct {
			Truncated any `json:"truncated"`
		}
		raw, ok := m[name+"Details"]
		return ok && json.Unmarshal(raw, &td) == nil && (td.Truncated == true || td.Truncated == "true")
	}
	var out []execdata.DataField
	for _, mb := range members {
		switch {
		case len(mb.raw) > 0 && mb.raw[0] == '"':
			var s string
			json.Unmarshal(mb.raw, &s)
			member := ""
			if top {
				member = wrappedMember(mb.name, str(m["resourceType"]), str(m["resource"]))
			}
			out = append(out, d.field(ctx, mb.name, s, truncated(mb.name), member))
		case mb.name == "assignedVariables" && len(mb.raw) > 0 && mb.raw[0] == '{':
			vars, _ := d.details(ctx, mb.raw, false)
			for _, v := range vars {
				v.Name = "assignedVariables." + v.Name
				out = append(out, v)
			}
		case strings.HasSuffix(mb.name, "Details"):
			// inputDetails and the like: shown through Truncated.
		default:
			out = append(out, execdata.DataField{Name: mb.name, Text: string(mb.raw), JSON: len(mb.raw) > 0 && (mb.raw[0] == '{' || mb.raw[0] == '[')})
		}
	}
	return out, nil
}

// str returns the JSON string raw holds, or "".
func str(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// field decrypts one string member and marks its tokens: those that failed
// with the reason, the others as the codec reported them.
func (d *Decryptor) field(ctx context.Context, name, s string, truncated bool, member string) execdata.DataField {
	f := execdata.DataField{Name: name, Truncated: truncated}
	out, fails, marks := d.textMarks(ctx, []byte(s), truncated, member)
	f.Text = string(out)
	t := bytes.TrimLeft(out, " \t\r\n")
	f.JSON = !truncated && len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(out)
	seen := map[execdata.Mark]bool{}
	add := func(m execdata.Mark) {
		if !f.JSON {
			m.Pointer = ""
		}
		if !seen[m] {
			seen[m] = true
			f.Marks = append(f.Marks, m)
		}
	}
	for _, fl := range fails {
		add(execdata.Mark{Pointer: fl.Pointer, Class: fl.Class, Reason: fl.Reason()})
	}
	for _, m := range marks {
		if m.Decrypted {
			add(execdata.Mark{Pointer: m.Pointer, Class: m.Class, Decrypted: true})
		} else {
			add(execdata.Mark{Pointer: m.Pointer, Class: m.Class, Reason: execdata.NotSelected})
		}
	}
	return f
}
