package stack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Pos is where something is written: a file, a line and a column (both
// from 1).
type Pos struct {
	File   string
	Line   int
	Column int
}

// positions maps the JSON pointer of each object member to where its key
// is written.
type positions map[string]Pos

// maxNesting bounds the nesting of a document (objects and arrays).
const maxNesting = 512

// errTooDeep: a document nested deeper than maxNesting.
var errTooDeep = fmt.Errorf("nested deeper than %d levels", maxNesting)

// decode reads JSON (strictly: no trailing comma, no duplicate member, no
// data after the value) or, if the data does not start with "{" or "[",
// YAML with CloudFormation's short-form tags ("!Sub x" becomes
// {"Fn::Sub": "x"}, "!Ref x" {"Ref": "x"}, "!GetAtt a.b"
// {"Fn::GetAtt": ["a", "b"]}). It records where each member is written.
func decode(data []byte, file string) (any, positions, error) {
	t := bytes.TrimSpace(data)
	if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return decodeJSON(data, file)
	}
	return decodeYAML(data, file)
}

func decodeJSON(data []byte, file string) (any, positions, error) {
	d := &jsonDecoder{dec: json.NewDecoder(bytes.NewReader(data)), data: data, file: file, pos: positions{}}
	d.dec.UseNumber()
	v, err := d.value("", 0)
	if err == nil {
		off := int(d.dec.InputOffset())
		if _, err2 := d.dec.Token(); err2 != io.EOF {
			for off < len(data) && strings.ContainsRune(" \t\r\n", rune(data[off])) {
				off++
			}
			err = d.errorAt(int64(off), errors.New("data after the JSON value"))
		}
	}
	if err != nil {
		return nil, nil, err
	}
	return v, d.pos, nil
}

type jsonDecoder struct {
	dec  *json.Decoder
	data []byte
	file string
	pos  positions
	// The line counted up to off (keys come in order, so counting goes
	// on from the last one: linear in the data).
	off, line, lineStart int
}

// at is the line and column of offset off, which is not before the last
// offset asked for.
func (d *jsonDecoder) at(off int) Pos {
	if d.line == 0 || off < d.off {
		d.off, d.line, d.lineStart = 0, 1, 0
	}
	for i := d.off; i < off; i++ {
		if d.data[i] == '\n' {
			d.line++
			d.lineStart = i + 1
		}
	}
	d.off = off
	return Pos{File: d.file, Line: d.line, Column: off - d.lineStart + 1}
}

// errorAt says where in the data an error is, as "json: line L, column
// C: ...".
func (d *jsonDecoder) errorAt(off int64, err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		off = int64(len(bytes.TrimRight(d.data, " \t\r\n"))) + 1
	}
	if off > int64(len(d.data)) {
		off = int64(len(d.data))
	}
	p := lineCol(d.data, int(off))
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		msg = "unexpected end of JSON input"
	}
	return fmt.Errorf("json: line %d, column %d: %s", p.Line, p.Column, msg)
}

func lineCol(data []byte, off int) Pos {
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := off - bytes.LastIndexByte(data[:off], '\n')
	return Pos{Line: line, Column: col}
}

func (d *jsonDecoder) value(ptr string, depth int) (any, error) {
	off := d.dec.InputOffset()
	tok, err := d.dec.Token()
	if err != nil {
		return nil, d.errorAt(off, err)
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxNesting {
			return nil, d.errorAt(off, errTooDeep)
		}
		if t == '[' {
			out := []any{}
			for i := 0; d.dec.More(); i++ {
				x, err := d.value(ptr+"/"+strconv.Itoa(i), depth+1)
				if err != nil {
					return nil, err
				}
				out = append(out, x)
			}
			if _, err := d.dec.Token(); err != nil {
				return nil, d.errorAt(d.dec.InputOffset(), err)
			}
			return out, nil
		}
		out := map[string]any{}
		for d.dec.More() {
			koff := d.dec.InputOffset()
			kt, err := d.dec.Token()
			if err != nil {
				return nil, d.errorAt(koff, err)
			}
			k, _ := kt.(string)
			// The key starts after the separator and blanks.
			kstart := int(koff)
			for kstart < len(d.data) && d.data[kstart] != '"' {
				kstart++
			}
			if _, dup := out[k]; dup {
				return nil, d.errorAt(int64(kstart), fmt.Errorf("duplicate member %q", k))
			}
			p := ptr + "/" + escape(k)
			d.pos[p] = d.at(kstart)
			x, err := d.value(p, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = x
		}
		if _, err := d.dec.Token(); err != nil {
			return nil, d.errorAt(d.dec.InputOffset(), err)
		}
		return out, nil
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return float64(i), nil
		}
		f, err := t.Float64()
		if err != nil {
			return nil, d.errorAt(off, err)
		}
		return f, nil
	}
	return tok, nil
}

// escape escapes a member name for a JSON pointer (RFC 6901).
func escape(k string) string {
	if !strings.ContainsAny(k, "~/") {
		return k
	}
	return pointerEscaper.Replace(k)
}

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func decodeYAML(data []byte, file string) (any, positions, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return nil, nil, err
	}
	if len(n.Content) == 0 {
		return nil, nil, errors.New("yaml: empty document")
	}
	pos := positions{}
	v, err := fromYAML(n.Content[0], "", 0, file, pos)
	if err != nil {
		return nil, nil, err
	}
	// A literal block's content starts at its indentation.
	lines := bytes.Split(data, []byte("\n"))
	for k, p := range pos {
		if strings.HasSuffix(k, literalMark) && p.Line-1 < len(lines) {
			l := lines[p.Line-1]
			p.Column = len(l) - len(bytes.TrimLeft(l, " ")) + 1
			pos[k] = p
		}
	}
	return v, pos, nil
}

func fromYAML(n *yaml.Node, ptr string, depth int, file string, pos positions) (any, error) {
	if depth > maxNesting {
		return nil, fmt.Errorf("yaml: line %d: %w", n.Line, errTooDeep)
	}
	var v any
	switch n.Kind {
	case yaml.AliasNode:
		return nil, fmt.Errorf("yaml: line %d: aliases are not supported", n.Line)
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn := n.Content[i]
			k := kn.Value
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("yaml: line %d: duplicate key %q", kn.Line, k)
			}
			p := ptr + "/" + escape(k)
			pos[p] = Pos{File: file, Line: kn.Line, Column: kn.Column}
			x, err := fromYAML(n.Content[i+1], p, depth+1, file, pos)
			if err != nil {
				return nil, err
			}
			m[k] = x
		}
		v = m
	case yaml.SequenceNode:
		s := []any{}
		for i, c := range n.Content {
			x, err := fromYAML(c, ptr+"/"+strconv.Itoa(i), depth+1, file, pos)
			if err != nil {
				return nil, err
			}
			s = append(s, x)
		}
		v = s
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			v = nil
		case "!!bool", "!!int", "!!float":
			if err := n.Decode(&v); err != nil {
				return nil, err
			}
			if i, ok := v.(int); ok {
				v = float64(i)
			}
		default:
			v = n.Value
			if n.Style&yaml.LiteralStyle != 0 {
				// A literal block keeps its lines: where a definition
				// written in one is, line by line.
				pos[ptr+literalMark] = Pos{File: file, Line: n.Line + 1, Column: n.Column}
			}
		}
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		name := n.Tag[1:]
		switch name {
		case "Ref", "Condition":
			return map[string]any{name: v}, nil
		case "GetAtt":
			if s, ok := v.(string); ok {
				a, b, _ := strings.Cut(s, ".")
				v = []any{a, b}
			}
		}
		return map[string]any{"Fn::" + name: v}, nil
	}
	return v, nil
}

// literalMark marks, in positions, the first line of a literal block
// scalar's content.
const literalMark = "#literal"
