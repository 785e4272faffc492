// A site of the credit network as MyCHIPs' lib/peernoise.js builds it, on the same packages (noise-protocol
// 3.0.2, frame-stream 2.1.0, sodium-native's Ed25519 -> X25519 conversion), for notch's interop tests. It adds
// no protocol logic of its own: the handshakes, the framing and the transport keys are the libraries'.
//
//   node peer.js dial   --seed HEX --host H --port P --to AGENT --mode ticket|kk --count N [--token T --cuid C]
//       connects, sends an I (ticket) or an N then a K, waits for A, sends N T messages {target:"echo", n},
//       and prints one JSON line per message received, then {"done":true}.
//   node peer.js listen --seed HEX --token TOKEN
//       prints {"port":P,"agent":A}; accepts I (ticket token must equal TOKEN) or N + K; answers every message
//       received (the handshake payload and each T) with a T {echo: message}. Prints {"event":...} lines.
'use strict'
const net = require('net')
const frame = require('frame-stream')
const noise = require('noise-protocol')
const { writeHandshake, readHandshake, sealFrame, openBody } = require('./noise-frames')
const sodium = require('sodium-native')

function args () {
  const out = {}
  const argv = process.argv.slice(3)
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1]
  return out
}

// The site keys as MyCHIPs' production makes them (lib/peer2peer.js:45-48, lib/noisewrap.js:108-125).
function siteKeys (seedHex) {
  const pk = Buffer.alloc(sodium.crypto_sign_PUBLICKEYBYTES)
  const sk = Buffer.alloc(sodium.crypto_sign_SECRETKEYBYTES)
  sodium.crypto_sign_seed_keypair(pk, sk, Buffer.from(seedHex, 'hex'))
  const publicKey = Buffer.alloc(32)
  const secretKey = Buffer.alloc(32)
  sodium.crypto_sign_ed25519_pk_to_curve25519(publicKey, pk)
  sodium.crypto_sign_ed25519_sk_to_curve25519(secretKey, sk)
  return { agent: pk.toString('base64url'), keys: { publicKey, secretKey } }
}

function noiseKeyOf (agent) {
  const out = Buffer.alloc(32)
  sodium.crypto_sign_ed25519_pk_to_curve25519(out, Buffer.from(agent, 'base64url'))
  return out
}

function print (obj) { process.stdout.write(JSON.stringify(obj) + '\n') }

function transport (split) {
  return {
    seal: (obj) => sealFrame(split, Buffer.from(JSON.stringify(obj))),
    open: (body) => JSON.parse(openBody(split, body).toString())
  }
}

function framed (socket) {
  const encode = frame.encode()
  encode.pipe(socket)
  return { encode, decode: socket.pipe(frame.decode()) }
}

function dial () {
  const a = args()
  const me = siteKeys(a.seed)
  const remote = noiseKeyOf(a.to)
  const count = Number(a.count || 1)
  let link = null
  const socket = net.connect(Number(a.port), a.host, () => {
    const { encode, decode } = framed(socket)
    const from = { cuid: a.cuid || 'js', agent: me.agent, host: '127.0.0.1', port: 0 }
    let state
    if (a.mode === 'ticket') {
      state = noise.initialize('IK', true, Buffer.alloc(0), me.keys, null, remote)
      const msg = { target: 'tally', action: 'ticket', to: { agent: a.to }, from, ticket: { token: a.token, cert: { chad: { cuid: 'js' } } } }
      encode.write(writeHandshake(state, 'I', Buffer.from(JSON.stringify(msg))).bytes)
    } else {
      const n = noise.initialize('N', true, Buffer.alloc(0), null, null, remote)
      encode.write(writeHandshake(n, 'N', Buffer.from(JSON.stringify(me.agent))).bytes)
      state = noise.initialize('KK', true, Buffer.alloc(0), me.keys, null, remote)
      const msg = { target: 'echo', action: 'hello', to: { agent: a.to }, from }
      encode.write(writeHandshake(state, 'K', Buffer.from(JSON.stringify(msg))).bytes)
    }
    let received = 0
    decode.on('data', (buf) => {
      const header = String.fromCharCode(buf[0])
      const body = buf.subarray(1)
      if (!link) {
        if (header !== 'A') throw new Error('expected A, got ' + header)
        link = transport(readHandshake(state, body).split)
        print({ event: 'open' })
        if (count === 0) { print({ done: true }); socket.end(); return }
        for (let n = 0; n < count; n++) encode.write(link.seal({ target: 'echo', action: 'ping', n, text: 'x'.repeat(1000) }))
        return
      }
      print({ event: 'message', message: link.open(body) })
      received++
      if (received >= count) { print({ done: true }); socket.end() }
    })
  })
  socket.on('error', (err) => { print({ error: err.message }); process.exit(2) })
  socket.on('close', () => { if (!link) { print({ event: 'closed_before_open' }); process.exit(3) } })
}

function listen () {
  const a = args()
  const me = siteKeys(a.seed)
  const server = net.createServer((socket) => {
    const { encode, decode } = framed(socket)
    let announced = null
    let link = null
    const answer = (message) => encode.write(link.seal({ echo: message }))
    decode.on('data', (buf) => {
      const header = String.fromCharCode(buf[0])
      const body = buf.subarray(1)
      try {
        if (link) {
          if (header !== 'T') throw new Error('unexpected ' + header)
          const message = link.open(body)
          print({ event: 'message', message })
          answer(message)
        } else if (header === 'I') {
          const state = noise.initialize('IK', false, Buffer.alloc(0), me.keys, null, null)
          const { payload } = readHandshake(state, body)
          const message = JSON.parse(payload.toString())
          if (!message.ticket || message.ticket.token !== a.token) { print({ event: 'bad_ticket' }); socket.destroy(); return }
          const { bytes, split } = writeHandshake(state, 'A', Buffer.alloc(0))
          encode.write(bytes)
          link = transport(split)
          print({ event: 'ticket', from: message.from.agent })
          answer(message)
        } else if (header === 'N') {
          const state = noise.initialize('N', false, Buffer.alloc(0), me.keys, null, null)
          announced = JSON.parse(readHandshake(state, body).payload.toString())
        } else if (header === 'K' && announced) {
          const state = noise.initialize('KK', false, Buffer.alloc(0), me.keys, null, noiseKeyOf(announced))
          const message = JSON.parse(readHandshake(state, body).payload.toString())
          const { bytes, split } = writeHandshake(state, 'A', Buffer.alloc(0))
          encode.write(bytes)
          link = transport(split)
          print({ event: 'key', from: announced })
          answer(message)
        } else {
          throw new Error('unexpected ' + header)
        }
      } catch (err) {
        print({ event: 'error', error: err.message })
        socket.destroy()
      }
    })
    socket.on('error', () => {})
  })
  server.listen(0, '127.0.0.1', () => print({ port: server.address().port, agent: me.agent }))
}

if (process.argv[2] === 'dial') dial()
else if (process.argv[2] === 'listen') listen()
else { process.stderr.write('usage: node peer.js dial|listen ...\n'); process.exit(64) }
