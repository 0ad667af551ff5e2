// sfnenc-esdk reads and writes sfnenc tokens of the ESDK mode (mode 0x02)
// with the AWS Encryption SDK for JavaScript, as a service in another
// language would. SECURITY.md ("ESDK mode") specifies the token.
//
//   node sfnenc-esdk.mjs decrypt < request.json > response.json
//   node sfnenc-esdk.mjs encrypt < request.json > response.json
//
// Request (JSON on stdin):
//   document           any JSON value
//   encryptionContext  the configured context (without sfnenc:class)
//   keyArns            KMS key ARNs; encrypt: the first makes the data key,
//                      the others (break-glass keys) wrap it too
//   rules              encrypt only: {"class": ["dotted.path", ...]}
//   endpoint           optional KMS endpoint (else the SDK's usual
//                      configuration, such as AWS_ENDPOINT_URL_KMS)
//
// Response (JSON on stdout): {document, fields: [{pointer, class,
// plaintext}]}, plaintext being the base64 of the exact bytes opened or
// sealed. decrypt replaces ESDK-mode tokens anywhere in the document and
// leaves native tokens (mode 0x01), which only sfnenc reads, as they are.
// On any error: a message on stderr, exit status 1, nothing on stdout.
// Messages name JSON pointers and classes, never values.

import {
  buildClient, CommitmentPolicy, AlgorithmSuiteIdentifier, KmsKeyringNode, getClient, KMS,
} from '@aws-crypto/client-node'
import { readField } from './read-field.mjs'

const PREFIX = 'sfnenc:'
const CLASS_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/

const { encrypt } = buildClient({
  commitmentPolicy: CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
  maxEncryptedDataKeys: 16,
})

function checkContext (ec) {
  for (const k of Object.keys(ec)) {
    if (k.startsWith('sfnenc:') || k.startsWith('aws-crypto-')) throw new Error(`reserved context key ${k}`)
  }
}

const escape = (k) => k.replace(/~/g, '~0').replace(/\//g, '~1') // RFC 6901

// walk returns v with each string s replaced by the value of fn(s, pointer)
// where fn returns one, and walks that value too (it may hold tokens).
async function walk (v, ptr, fn) {
  if (typeof v === 'string') {
    const r = await fn(v, ptr)
    return r ? walk(r.value, ptr, fn) : v
  }
  if (v === null || typeof v !== 'object') return v
  for (const k of Object.keys(v)) v[k] = await walk(v[k], `${ptr}/${escape(k)}`, fn)
  return v
}

async function runDecrypt (req, clientProvider) {
  // A strict keyring: it only tries encrypted data keys of these ARNs.
  const keyring = new KmsKeyringNode({ clientProvider, keyIds: req.keyArns })
  const fields = []
  const document = await walk(req.document, '', async (s, pointer) => {
    if (!s.startsWith(PREFIX)) return undefined
    try {
      const b64 = s.slice(PREFIX.length)
      const body = Buffer.from(b64, 'base64url')
      // Buffer decodes leniently; tokens have one encoding only.
      if (body.toString('base64url') !== b64) throw new Error('not canonical base64url')
      if (body[0] === 0x01 && body[1] === 0x01) return undefined // native token
      const plaintext = await readField(s, keyring, req.encryptionContext)
      const cls = body.subarray(3, 3 + body[2]).toString('latin1')
      fields.push({ pointer, class: cls, plaintext: plaintext.toString('base64') })
      // The value's JSON text, maybe padded with spaces (JSON.parse skips them).
      return { value: JSON.parse(plaintext.toString('utf8')) }
    } catch (err) {
      throw new Error(`token at "${pointer}": ${err.message}`)
    }
  })
  return { document, fields }
}

async function runEncrypt (req, clientProvider) {
  const [generatorKeyId, ...keyIds] = req.keyArns
  const keyring = new KmsKeyringNode({ clientProvider, generatorKeyId, keyIds })
  const fields = []
  for (const [cls, paths] of Object.entries(req.rules ?? {})) {
    if (!CLASS_RE.test(cls)) throw new Error(`invalid class ${cls}`)
    const encryptionContext = { ...req.encryptionContext, 'sfnenc:class': cls }
    for (const path of paths) {
      const keys = path.split('.')
      const last = keys.pop()
      const parent = keys.reduce((o, k) => o?.[k], req.document)
      const v = parent?.[last]
      if (v === undefined) continue // nothing selected
      if (typeof v === 'string' && v.startsWith(PREFIX)) continue // already a token
      // The plaintext is the value's JSON text, as JSON.stringify writes it.
      const plaintext = Buffer.from(JSON.stringify(v), 'utf8')
      const { result } = await encrypt(keyring, plaintext, {
        suiteId: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY,
        encryptionContext,
      })
      const header = Buffer.concat([Buffer.from([0x01, 0x02, cls.length]), Buffer.from(cls, 'latin1')])
      parent[last] = PREFIX + Buffer.concat([header, result]).toString('base64url')
      fields.push({ pointer: '/' + [...keys, last].map(escape).join('/'), class: cls, plaintext: plaintext.toString('base64') })
    }
  }
  return { document: req.document, fields }
}

async function main () {
  const run = { decrypt: runDecrypt, encrypt: runEncrypt }[process.argv[2]]
  if (!run) throw new Error('usage: sfnenc-esdk.mjs decrypt|encrypt < request.json')
  const chunks = []
  for await (const c of process.stdin) chunks.push(c)
  const req = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  if (!Array.isArray(req.keyArns) || req.keyArns.length === 0) throw new Error('keyArns: at least one KMS key ARN')
  req.encryptionContext ??= {}
  checkContext(req.encryptionContext)
  // KMS clients by region (from each key ARN), at the given endpoint if any.
  const clientProvider = getClient(KMS, req.endpoint ? { endpoint: req.endpoint } : {})
  // Everything is done before anything is written: no partial output.
  process.stdout.write(JSON.stringify(await run(req, clientProvider)) + '\n')
}

main().catch((err) => {
  process.stderr.write(`sfnenc-esdk: error: ${err.message}\n`)
  process.exitCode = 1
})
