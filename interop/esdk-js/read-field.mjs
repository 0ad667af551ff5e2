// readField decrypts one sfnenc token of the ESDK mode (SECURITY.md, "ESDK
// mode") with the AWS Encryption SDK for JavaScript and returns the
// plaintext: the value's JSON text. keyring is a KmsKeyringNode over the
// key ARNs the reader may use; context is the configured encryptionContext.
import { buildClient, CommitmentPolicy, AlgorithmSuiteIdentifier } from '@aws-crypto/client-node'

const { decrypt } = buildClient({ commitmentPolicy: CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT, maxEncryptedDataKeys: 16 })
const SUITE = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY // 0x0478

export async function readField (token, keyring, context) {
  // body = 0x01 (version) 0x02 (ESDK mode) classLen class message
  const body = Buffer.from(token.slice('sfnenc:'.length), 'base64url')
  if (body[0] !== 0x01 || body[1] !== 0x02) throw new Error('not an ESDK-mode sfnenc token')
  const cls = body.subarray(3, 3 + body[2]).toString('latin1')
  const { plaintext, messageHeader: h } = await decrypt(keyring, body.subarray(3 + body[2]))
  // The JavaScript ESDK also accepts the signed suite 0x0578 and checks the
  // encryption context against nothing: both checks are the caller's.
  if (h.suiteId !== SUITE) throw new Error(`algorithm suite 0x${h.suiteId.toString(16)}, want 0x0478`)
  const want = { ...context, 'sfnenc:class': cls }
  const got = h.encryptionContext
  if (Object.keys(got).length !== Object.keys(want).length || Object.keys(want).some((k) => got[k] !== want[k])) {
    throw new Error(`encryption context mismatch (token class ${cls})`)
  }
  return plaintext // JSON.parse(plaintext.toString()) gives the value
}
