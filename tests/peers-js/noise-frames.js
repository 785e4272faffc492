// The pieces of MyCHIPs' lib/noisewrap.js that both test peers use, on noise-protocol 3.0.2: a handshake
// message written as a frame (header byte first), a handshake message read, and `T` frames sealed and opened
// with the library's own split (whose orientation is MyCHIPs': the writer of the last message sends with c1).
'use strict'
const noise = require('noise-protocol')
const cipherState = require('noise-protocol/cipher-state')({ cipher: require('noise-protocol/cipher')() })

function writeHandshake (state, header, payload) {
  const out = Buffer.alloc(1 + 96 + payload.length + 16)
  const split = noise.writeMessage(state, payload, out.subarray(1))
  out[0] = header.charCodeAt(0)
  return { bytes: out.subarray(0, 1 + noise.writeMessage.bytes), split }
}

function readHandshake (state, body) {
  const payload = Buffer.alloc(body.length)
  const split = noise.readMessage(state, body, payload)
  return { payload: payload.subarray(0, noise.readMessage.bytes), split }
}

// A `T` frame (header included) carrying `text`.
function sealFrame (split, text) {
  const out = Buffer.alloc(1 + text.length + 16)
  out[0] = 0x54
  cipherState.encryptWithAd(split.tx, out.subarray(1), null, text)
  return out
}

function openBody (split, body) {
  const out = Buffer.alloc(body.length - 16)
  cipherState.decryptWithAd(split.rx, out, null, body)
  return out
}

module.exports = { writeHandshake, readHandshake, sealFrame, openBody }
