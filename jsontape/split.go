package jsontape

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// Framing says how a Splitter found its records.
type Framing uint8

const (
	// ArrayFraming: the input is one JSON array, its elements the records.
	ArrayFraming Framing = iota + 1
	// LinesFraming: the input is JSON Lines, one record a line.
	LinesFraming
)

// Splitter reads a stream of records, the elements of one JSON array or the
// lines of a JSON Lines text, one record at a time, and holds each record to
// the same strict scan as Scan (Limits apply to each record), so that a
// stream of any length is read in memory bounded by its largest record. It
// finds where a record ends with a light pass over its bytes (strings and
// nesting), without decoding; a record cut off by the end of the input, or
// bytes after the array's end, are errors.
type Splitter struct {
	r       *bufio.Reader
	lim     Limits
	framing Framing
	off     int64 // bytes consumed
	n       int   // records returned
	done    bool
	ended   bool // the array's closing bracket was read
	buf     []byte
}

// NewSplitter returns a Splitter that reads from r: a JSON array if its
// first byte other than white space is '[', else JSON Lines.
func NewSplitter(r io.Reader, lim Limits) *Splitter {
	return &Splitter{r: bufio.NewReaderSize(r, 64<<10), lim: lim}
}

// Framing returns how the input holds its records, once Next has been
// called.
func (s *Splitter) Framing() Framing { return s.framing }

// Next returns the next record, scanned, or io.EOF after the last one. Its
// bytes are Document.Source, valid until the next call; the caller releases
// the Document. Errors of the strict scan are *DocumentError values whose
// Offset counts from the start of the input.
func (s *Splitter) Next() (*Document, error) {
	if s.done {
		return nil, io.EOF
	}
	if s.framing == 0 {
		c, err := s.skipSpace()
		switch {
		case err == io.EOF:
			s.done = true
			s.framing = LinesFraming
			return nil, io.EOF
		case err != nil:
			return nil, err
		case c == '[':
			s.framing = ArrayFraming
			s.r.ReadByte()
			s.off++
		default:
			s.framing = LinesFraming
		}
	}
	var start int64
	var err error
	if s.framing == ArrayFraming {
		start, err = s.nextElement()
	} else {
		start, err = s.nextLine()
	}
	if err != nil {
		if err == io.EOF {
			s.done = true
		}
		return nil, err
	}
	doc, err := Scan(s.buf, s.lim)
	if err != nil {
		var de *DocumentError
		if errors.As(err, &de) {
			de.Offset += int(start)
		}
		return nil, fmt.Errorf("record %d: %w", s.n, err)
	}
	s.n++
	return doc, nil
}

// skipSpace skips white space and returns the next byte, unread.
func (s *Splitter) skipSpace() (byte, error) {
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return 0, err
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			s.r.UnreadByte()
			return c, nil
		}
		s.off++
	}
}

func (s *Splitter) syntax(off int64, what string) error {
	return &DocumentError{Offset: int(off), Err: fmt.Errorf("%w: %s", ErrSyntax, what)}
}

// nextLine reads the next line that is not blank into s.buf.
func (s *Splitter) nextLine() (int64, error) {
	for {
		start := s.off
		s.buf = s.buf[:0]
		for {
			chunk, err := s.r.ReadSlice('\n')
			s.buf = append(s.buf, chunk...)
			s.off += int64(len(chunk))
			if len(s.buf) > s.lim.maxSize()+2 {
				return 0, &DocumentError{Offset: int(start), Err: fmt.Errorf("%w: record %d is over %d bytes", ErrTooLarge, s.n, s.lim.maxSize())}
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil && err != io.EOF {
				return 0, err
			}
			if err == io.EOF && len(s.buf) == 0 {
				return 0, io.EOF
			}
			break
		}
		blank := true
		for _, c := range s.buf {
			if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
				blank = false
				break
			}
		}
		if !blank {
			return start, nil
		}
	}
}

// nextElement reads the next element of the array into s.buf, and the
// separator after it; io.EOF once the array has ended (with nothing but
// white space after it).
func (s *Splitter) nextElement() (int64, error) {
	if s.ended {
		return 0, io.EOF
	}
	c, err := s.skipSpace()
	if err != nil {
		return 0, s.cut(err)
	}
	if c == ']' {
		if s.n > 0 {
			return 0, s.syntax(s.off, "']' after ','")
		}
		s.r.ReadByte()
		s.off++
		s.ended = true
		return 0, s.end()
	}
	start := s.off
	s.buf = s.buf[:0]
	depth := 0
	inString, escaped := false, false
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return 0, s.cut(err)
		}
		s.off++
		if !inString && depth == 0 && (c == ',' || c == ']') {
			if len(s.buf) == 0 {
				return 0, s.syntax(s.off-1, "no value")
			}
			if c == ']' {
				if err := s.end(); err != io.EOF {
					return 0, err
				}
				s.ended = true // this element is the last
			}
			s.buf = trimSpace(s.buf)
			return start, nil
		}
		s.buf = append(s.buf, c)
		if len(s.buf) > s.lim.maxSize() {
			return 0, &DocumentError{Offset: int(start), Err: fmt.Errorf("%w: record %d is over %d bytes", ErrTooLarge, s.n, s.lim.maxSize())}
		}
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
			if depth < 0 {
				return 0, s.syntax(s.off-1, "unbalanced '"+string(c)+"'")
			}
		}
	}
}

// end checks that only white space follows the array's end.
func (s *Splitter) end() error {
	if _, err := s.skipSpace(); err != io.EOF {
		if err != nil {
			return err
		}
		return s.syntax(s.off, "data after the array")
	}
	return io.EOF
}

// cut turns the end of the input inside the array into a syntax error.
func (s *Splitter) cut(err error) error {
	if err == io.EOF {
		return s.syntax(s.off, "the array ends early (truncated?)")
	}
	return err
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
