package livesim

import (
	"strconv"
	"unsafe"
)

// appendJSONString appends s as a JSON string literal. Like Bilibili's
// servers it leaves non-ASCII text unescaped and escapes only what JSON
// requires. s must be valid UTF-8 (all simulator text is).
func appendJSONString(dst []byte, s string) []byte {
	return appendJSONBytes(dst, unsafe.Slice(unsafe.StringData(s), len(s)))
}

// appendJSONBytes is appendJSONString for a byte slice.
func appendJSONBytes(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
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
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// appendInt appends a decimal integer.
func appendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }
