package protocol

import (
	"math"
	"strconv"

	"github.com/valyala/fastjson"
)

// Why a number could not be stored in an int64 field: the last words of a
// numeric decode_error (see readInt).
const (
	whyRange    = "out of int64 range"
	whyFraction = "not an integer"
	whyNotNum   = "not a number"
	whyNegative = "negative"
)

// readInt is the one place that turns a JSON value into an int64 field
// (typed command decoders reach it through cmdCtx.i64, which also names
// the field). It never stores a wrapped, truncated or rounded value:
//
//   - a JSON integer in int64 range is its exact value (never through
//     float64, so values above 2^53 stay exact);
//   - a JSON number written with a fraction or exponent is its exact
//     value when that is an integer in range ("1.0" → 1, "1e3" → 1000);
//   - a number past int64 ("184467440737095516160", "-1e30", "1e400"),
//     with a fractional part ("1.5", "1.00000000000000001") or that is
//     no number at all (fastjson lets "inf", "nan", "1.2.3" through as
//     number tokens) returns 0 and why (whyRange, whyFraction, whyNotNum);
//   - a string that reads as a decimal number (optional sign, digits,
//     fraction, exponent) follows the same rules ("123" → 123, "1.5" →
//     why); any other string is 0 without why, as are null, false,
//     objects, arrays and a missing value; true is 1.
//
// For a typed command, a why turns the whole command into KindOther with
// a decode_error naming the field and its text (cmdCtx.i64); nothing is
// stored in the typed field.
func readInt(v *fastjson.Value) (n int64, why string) {
	if v == nil {
		return 0, ""
	}
	switch v.Type() {
	case fastjson.TypeNumber:
		if n, err := v.Int64(); err == nil {
			return n, "" // the common case: no allocation
		}
		n, why, _ := intText(v.MarshalTo(nil))
		return n, why
	case fastjson.TypeString:
		n, why, isNum := intText(v.GetStringBytes())
		if !isNum {
			return 0, ""
		}
		return n, why
	case fastjson.TypeTrue:
		return 1, ""
	}
	return 0, ""
}

// intText reads decimal number text exactly: isNum reports whether s has
// the shape of a decimal number at all ([+-]digits[.digits][e[+-]digits],
// at least one mantissa digit); why is "" when s is an integer that fits
// int64, else whyRange, whyFraction or whyNotNum (the latter with
// isNum=false).
func intText(s []byte) (n int64, why string, isNum bool) {
	if n, err := strconv.ParseInt(string(s), 10, 64); err == nil {
		return n, "", true
	}
	neg, digits, exp, isNum := decimalParts(s)
	if !isNum {
		return 0, whyNotNum, false
	}
	n, why = exactInt(neg, digits, exp)
	return n, why, true
}

// decimalParts takes decimal number text apart (the shape intText
// accepts): its value is ±digits × 10^exp, digits being the mantissa's
// digits without the point. isNum is false for any other text.
func decimalParts(s []byte) (neg bool, digits []byte, exp int, isNum bool) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	// frac counts the mantissa digits after the point.
	frac, mant := 0, 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		digits = append(digits, s[i])
		mant++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			digits = append(digits, s[i])
			frac++
			mant++
		}
	}
	if mant == 0 {
		return false, nil, 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		start := i
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if exp < 1e6 { // past this, only the sign of the exponent matters
				exp = exp*10 + int(s[i]-'0')
			}
		}
		if i == start {
			return false, nil, 0, false
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(s) {
		return false, nil, 0, false
	}
	return neg, digits, exp - frac, true
}

// exactInt returns ±digits × 10^exp (decimalParts) when that is an
// integer that fits int64, else 0 and whyFraction or whyRange. It may
// append to digits.
func exactInt(neg bool, digits []byte, exp int) (int64, string) {
	for len(digits) > 0 && digits[0] == '0' {
		digits = digits[1:]
	}
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
		exp++
	}
	switch {
	case len(digits) == 0:
		return 0, "" // a zero
	case exp < 0:
		return 0, whyFraction
	case len(digits)+exp > 19:
		return 0, whyRange
	}
	for ; exp > 0; exp-- {
		digits = append(digits, '0')
	}
	u, err := strconv.ParseUint(string(digits), 10, 64)
	switch {
	case err != nil:
		return 0, whyRange
	case !neg && u <= math.MaxInt64:
		return int64(u), ""
	case neg && u <= 1<<63:
		return int64(-u), "" // -(1<<63) wraps to math.MinInt64, which is exact
	}
	return 0, whyRange
}

// i64 reads an int64 field of the command through readInt. A number that
// does not fit is recorded (the first such field wins) and 0 returned;
// Decode then keeps the whole command as KindOther with decode_error
// "<cmd>: <path>: <text as received> <why>", e.g. `SEND_GIFT: data.uid:
// 184467440737095516160 out of int64 range`.
func (c *cmdCtx) i64(v *fastjson.Value) int64 {
	n, why := readInt(v)
	if why != "" {
		c.fail(v, why)
	}
	return n
}

// nonneg is i64 for amounts and quantities (prices, coins, gift and guard
// counts): a negative value is recorded like a number that does not fit
// (why "negative") and 0 returned.
func (c *cmdCtx) nonneg(v *fastjson.Value) int64 {
	n := c.i64(v)
	if n < 0 {
		c.fail(v, whyNegative)
		return 0
	}
	return n
}

// times returns a×b, or records what (a field path or a description) as
// out of range and returns 0 when the product does not fit int64 (a
// timestamp in seconds turned into milliseconds, price × num).
func (c *cmdCtx) times(a, b int64, what string) int64 {
	p := a * b
	if a != 0 && (p/a != b || a == -1 && b == math.MinInt64 || b == -1 && a == math.MinInt64) {
		c.failf(what + ": " + strconv.FormatInt(a, 10) + " × " + strconv.FormatInt(b, 10) + " " + whyRange)
		return 0
	}
	return p
}

func (c *cmdCtx) fail(v *fastjson.Value, why string) {
	if c.bad == "" {
		c.failf(c.pathOf(v) + ": " + string(v.MarshalTo(nil)) + " " + why)
	}
}

// failf records the first numeric decode error of the command.
func (c *cmdCtx) failf(msg string) {
	if c.bad == "" {
		c.bad = c.b.Cmd + ": " + msg
	}
}

// pathOf names where v sits in the command ("data.uid", "info[0][2]",
// "info[0][15].extra.reply_mid" for the JSON document inside extra). It
// walks the parsed tree, so it is for error messages only.
func (c *cmdCtx) pathOf(v *fastjson.Value) string {
	if p, ok := valuePath(c.v, v, nil); ok {
		return string(p)
	}
	if c.x != nil {
		if p, ok := valuePath(c.x, v, []byte("info[0][15].extra")); ok {
			return string(p)
		}
	}
	return "?"
}

// valuePath finds want inside n by identity and appends its path to p.
func valuePath(n, want *fastjson.Value, p []byte) ([]byte, bool) {
	if n == want {
		return p, true
	}
	switch n.Type() {
	case fastjson.TypeArray:
		for i, e := range n.GetArray() {
			q := append(append(append(p, '['), strconv.Itoa(i)...), ']')
			if r, ok := valuePath(e, want, q); ok {
				return r, true
			}
		}
	case fastjson.TypeObject:
		o, _ := n.Object()
		var found []byte
		o.Visit(func(k []byte, e *fastjson.Value) {
			if found != nil {
				return
			}
			q := p
			if len(q) > 0 {
				q = append(q, '.')
			}
			if r, ok := valuePath(e, want, append(q, k...)); ok {
				found = r
			}
		})
		if found != nil {
			return found, true
		}
	}
	return nil, false
}
