// Package wbi implements Bilibili's WBI request signing (docs/protocol.md §3):
// the mixin key derived from the nav endpoint's two disguised keys, and
// the w_rid MD5 over the sorted, filtered, percent-encoded query. The API
// client signs with it and the simulator verifies with it; both are
// checked against the worked examples in docs/protocol.md.
package wbi

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// mixinTable is the permutation that builds the mixin key; only its first
// 32 entries matter.
var mixinTable = [32]int{
	46, 47, 18, 2, 53, 8, 23, 32, 15, 50, 10, 31, 58, 3, 45, 35,
	27, 43, 5, 49, 33, 9, 42, 19, 29, 28, 14, 39, 12, 38, 41, 13,
}

// ErrBadKey reports an img/sub key that is not 32 characters.
var ErrBadKey = errors.New("wbi: keys must be 32 characters each")

// KeyFromURL returns the key a nav wbi_img URL disguises: its file name
// without extension ("https://i0.hdslb.com/bfs/wbi/7cd0….png" → "7cd0…").
func KeyFromURL(u string) string {
	base := path.Base(u)
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	return base
}

// MixinKey derives the 32-character mixin key from img_key and sub_key.
func MixinKey(imgKey, subKey string) (string, error) {
	raw := imgKey + subKey
	if len(imgKey) != 32 || len(subKey) != 32 {
		return "", ErrBadKey
	}
	var b [32]byte
	for i, t := range mixinTable {
		b[i] = raw[t]
	}
	return string(b[:]), nil
}

// Encode returns the canonical query that is hashed: parameters sorted by
// key, the characters !'()* removed from values, percent-escapes in upper
// case and space as %20 (encodeURIComponent rules). Keys named w_rid are
// left out.
func Encode(params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "w_rid" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		for _, v := range params[k] {
			if sb.Len() > 0 {
				sb.WriteByte('&')
			}
			sb.WriteString(escape(k))
			sb.WriteByte('=')
			sb.WriteString(escape(strings.Map(func(r rune) rune {
				switch r {
				case '!', '\'', '(', ')', '*':
					return -1
				}
				return r
			}, v)))
		}
	}
	return sb.String()
}

// escape percent-encodes like JavaScript's encodeURIComponent.
func escape(s string) string {
	const hexd = "0123456789ABCDEF"
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '!', c == '~', c == '*', c == '\'', c == '(', c == ')':
			sb.WriteByte(c)
		default:
			sb.WriteByte('%')
			sb.WriteByte(hexd[c>>4])
			sb.WriteByte(hexd[c&15])
		}
	}
	return sb.String()
}

// Rid returns w_rid for params (which must already hold wts).
func Rid(params url.Values, mixinKey string) string {
	sum := md5.Sum([]byte(Encode(params) + mixinKey))
	return hex.EncodeToString(sum[:])
}

// Sign adds wts (now, unix seconds) and w_rid to params in place.
func Sign(params url.Values, mixinKey string, now time.Time) {
	params.Set("wts", strconv.FormatInt(now.Unix(), 10))
	params.Del("w_rid")
	params.Set("w_rid", Rid(params, mixinKey))
}

// Verification failures.
var (
	ErrMissing = errors.New("wbi: wts or w_rid missing")
	ErrStale   = errors.New("wbi: wts too far from now")
	ErrBadSig  = errors.New("wbi: w_rid does not match")
)

// Verify checks a signed query: w_rid must match under mixinKey and wts
// must lie within maxSkew of now.
func Verify(params url.Values, mixinKey string, now time.Time, maxSkew time.Duration) error {
	rid, wts := params.Get("w_rid"), params.Get("wts")
	if rid == "" || wts == "" {
		return ErrMissing
	}
	ts, err := strconv.ParseInt(wts, 10, 64)
	if err != nil {
		return ErrMissing
	}
	if d := now.Sub(time.Unix(ts, 0)); d > maxSkew || d < -maxSkew {
		return ErrStale
	}
	if Rid(params, mixinKey) != strings.ToLower(rid) {
		return ErrBadSig
	}
	return nil
}
