// WBI signing as the web client does it (PROTOCOL.md, WBI): the mixin key
// from img_key + sub_key through the fixed permutation, wts added, keys
// sorted, !'()* removed from values, w_rid = md5(query + mixin). Shared
// by interop.mjs and scripts/peer/blws.mjs.
import { createHash } from 'node:crypto'

const MIXIN = [46, 47, 18, 2, 53, 8, 23, 32, 15, 50, 10, 31, 58, 3, 45, 35, 27, 43, 5, 49, 33, 9, 42, 19, 29, 28, 14, 39, 12, 38, 41, 13]

// sign returns the query string for params, signed with the keys.
export function sign (params, imgKey, subKey) {
  const raw = imgKey + subKey
  const mixin = MIXIN.map(i => raw[i]).join('')
  const all = { ...params, wts: Math.floor(Date.now() / 1000) }
  const query = Object.keys(all).sort()
    .map(k => `${encodeURIComponent(k)}=${encodeURIComponent(String(all[k]).replace(/[!'()*]/g, ''))}`)
    .join('&')
  return `${query}&w_rid=${createHash('md5').update(query + mixin).digest('hex')}`
}
