// The JS half of `notch bench peer`: the same three measurements on npm noise-protocol 3.0.2 + frame-stream
// 2.1.0 as MyCHIPs uses them, a responder in a child process and the initiator here (two processes, as notch's
// two sites are two runtimes on the machine's two cores).
//
//   node bench.js --seconds S [--concurrency C]
//       prints {"handshakes_per_s":…, "messages_per_s":…, "echoed_per_s":…}
'use strict'
const net = require('net')
const { fork } = require('child_process')
const frame = require('frame-stream')
const noise = require('noise-protocol')
const { writeHandshake: handshakeBytes, readHandshake, sealFrame: seal, openBody: open } = require('./noise-frames')

const EMPTY = Buffer.alloc(0)

// The responder: N then K answered by A; every T is parsed (as MyCHIPs does) and echoed when asked.
function responder () {
  const keys = noise.keygen()
  const server = net.createServer((socket) => {
    const encode = frame.encode()
    encode.pipe(socket)
    let initiatorKey = null
    let split = null
    socket.pipe(frame.decode()).on('data', (buf) => {
      const header = String.fromCharCode(buf[0])
      const body = buf.subarray(1)
      if (split) {
        const message = JSON.parse(open(split, body).toString())
        if (message.action === 'echo') encode.write(seal(split, Buffer.from(JSON.stringify(message))))
      } else if (header === 'N') {
        const n = noise.initialize('N', false, EMPTY, keys, null, null)
        initiatorKey = Buffer.from(JSON.parse(readHandshake(n, body).payload.toString()), 'hex')
      } else if (header === 'K') {
        const kk = noise.initialize('KK', false, EMPTY, keys, null, initiatorKey)
        JSON.parse(readHandshake(kk, body).payload.toString())
        const answer = handshakeBytes(kk, 'A', EMPTY)
        split = answer.split
        encode.write(answer.bytes)
      }
    })
    socket.on('error', () => {})
  })
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port, publicKey: keys.publicKey.toString('hex') }))
}

function connect (port, remoteKey, keys, onOpen, onMessage) {
  const socket = net.connect(port, '127.0.0.1')
  socket.setNoDelay(true)
  const encode = frame.encode()
  encode.pipe(socket)
  const kk = noise.initialize('KK', true, EMPTY, keys, null, remoteKey)
  const n = noise.initialize('N', true, EMPTY, null, null, remoteKey)
  encode.write(handshakeBytes(n, 'N', Buffer.from(JSON.stringify(keys.publicKey.toString('hex')))).bytes)
  encode.write(handshakeBytes(kk, 'K', Buffer.from('{"target":"bench","action":"hello"}')).bytes)
  let split = null
  socket.pipe(frame.decode()).on('data', (buf) => {
    if (!split) {
      split = readHandshake(kk, buf.subarray(1)).split
      onOpen({ socket, send: (text) => encode.write(seal(split, text)) })
    } else {
      onMessage(JSON.parse(open(split, buf.subarray(1)).toString()))
    }
  })
  socket.on('error', () => {})
}

function handshakes (port, remoteKey, seconds, concurrency) {
  return new Promise((resolve) => {
    const keys = noise.keygen()
    const end = Date.now() + seconds * 1000
    const start = Date.now()
    let done = 0
    let running = 0
    const next = () => {
      if (Date.now() >= end) { if (running === 0) resolve(done / ((Date.now() - start) / 1000)); return }
      running++
      connect(port, remoteKey, keys, (link) => { done++; running--; link.socket.destroy(); next() }, () => {})
    }
    for (let i = 0; i < concurrency; i++) next()
  })
}

// A message of 1 KiB of JSON, as the Rust side sends.
function kib (action, n) {
  const base = JSON.stringify({ target: 'bench', action, n, pad: '' }).length
  return Buffer.from(JSON.stringify({ target: 'bench', action, n, pad: 'x'.repeat(1024 - base) }))
}

function messages (port, remoteKey, seconds, action) {
  return new Promise((resolve) => {
    const keys = noise.keygen()
    let received = 0
    let sent = 0
    let start = 0
    let sending = true
    connect(port, remoteKey, keys, (link) => {
      start = Date.now()
      const end = start + seconds * 1000
      const pump = () => {
        // Keep the socket's buffer bounded: write while it drains, as a real sender must.
        while (Date.now() < end && link.socket.writableLength < 1 << 20) {
          link.send(kib(action, sent))
          sent++
        }
        if (Date.now() < end) { setImmediate(pump); return }
        sending = false
        if (action !== 'echo') {
          // One way: the responder has read everything once it answers one echo behind the stream.
          link.send(Buffer.from(JSON.stringify({ target: 'bench', action: 'echo', n: -1 })))
        }
      }
      pump()
    }, (message) => {
      received++
      const finished = action === 'echo' ? (!sending && received === sent) : message.n === -1
      if (finished) {
        resolve((action === 'echo' ? received : sent) / ((Date.now() - start) / 1000))
      }
    })
  })
}

async function drive () {
  const argv = process.argv.slice(2)
  const arg = (name, fallback) => { const i = argv.indexOf('--' + name); return i >= 0 ? Number(argv[i + 1]) : fallback }
  const seconds = arg('seconds', 10)
  const concurrency = arg('concurrency', 16)
  const child = fork(__filename, ['responder'])
  const ready = await new Promise((resolve) => child.once('message', resolve))
  const remoteKey = Buffer.from(ready.publicKey, 'hex')
  const result = {
    handshakes_per_s: await handshakes(ready.port, remoteKey, seconds, concurrency),
    messages_per_s: await messages(ready.port, remoteKey, seconds, 'one_way'),
    echoed_per_s: await messages(ready.port, remoteKey, seconds, 'echo')
  }
  process.stdout.write(JSON.stringify(result) + '\n')
  child.kill()
  process.exit(0)
}

if (process.argv[2] === 'responder') responder()
else drive()
