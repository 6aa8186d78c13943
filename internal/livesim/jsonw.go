package livesim

import (
	"strconv"
	"unsafe"
)

// appendJSONString appends s as a JSON string literal. Like Bilibili's
// servers it leaves non-ASCII text unescaped and escapes only what JSON
// requires. s must be valid UTF-8 (all simulator text is).
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, unsafe.Slice(unsafe.StringData(s), len(s)))
	return append(dst, '"')
}

// appendEscaped appends s escaped for the inside of a JSON string literal
// (no quotes). Runs of bytes that need no escape are copied at once.
func appendEscaped(dst []byte, s []byte) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if jsonPlain[c] {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	return append(dst, s[start:]...)
}

// jsonPlain[c] is true when byte c stands for itself inside a JSON string.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// nested returns a static piece of JSON escaped for use inside a JSON
// string (a document carried as a string, like DANMU_MSG's extra).
func nested(s string) string {
	return string(appendEscaped(nil, []byte(s)))
}

// appendNestedString appends s as a JSON string literal escaped once more
// for use inside a JSON string: for a"b the literal "a\"b" goes out as
// \"a\\\"b\".
func appendNestedString(dst []byte, s string) []byte {
	var buf [128]byte
	return appendEscaped(dst, appendJSONString(buf[:0], s))
}

const hexDigits = "0123456789abcdef"

// appendInt appends a decimal integer.
func appendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }
