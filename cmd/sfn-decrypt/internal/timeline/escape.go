package timeline

import (
	"strings"
	"unicode/utf8"
)

// markText starts every mark a Timeline writes. Data that holds it is
// written with its '#' escaped, so a value cannot pass for a mark.
const markText = "# NOT DECRYPTED"

// Escape returns s safe to write to a terminal as one line of text: C0
// controls other than tab (newline and carriage return included), DEL and
// the C1 controls U+0080..U+009F become JSON-style escapes (\u001b), and
// bytes that are not UTF-8 become U+FFFD. Inside a JSON string the escapes
// mean what the characters meant, so a pretty-printed JSON line stays JSON.
// Without this, a value, an error cause or a log message could move the
// cursor, rewrite earlier lines (ESC sequences, CR) or switch the terminal's
// mode, and a reader would see what the writer of the data chose.
func Escape(s string) string {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if needsEscape(r, n) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteRune(utf8.RuneError)
		case needsEscape(r, n):
			const hex = "0123456789abcdef"
			b.WriteString(`\u00`)
			b.WriteByte(hex[r>>4])
			b.WriteByte(hex[r&0xf])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func needsEscape(r rune, n int) bool {
	return (r < 0x20 && r != '\t') || (r >= 0x7f && r <= 0x9f) || (r == utf8.RuneError && n == 1)
}

// escapeData is Escape for data in a Timeline: it also escapes the '#' of
// any mark text in s.
func escapeData(s string) string {
	s = Escape(s)
	if strings.Contains(s, markText) {
		s = strings.ReplaceAll(s, markText, `\u0023`+markText[1:])
	}
	return s
}
