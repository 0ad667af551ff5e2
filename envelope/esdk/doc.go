// Package esdk encrypts one value as one AWS Encryption SDK message under
// AWS KMS keys, for a token mode whose tokens other AWS Encryption SDK
// clients (for example the JavaScript one) can decrypt.
//
// [New] configures a [Sealer] with KMS key ARNs: the first generates each
// message's data key, the others (a break-glass key in another account, say)
// wrap the same data key. [Sealer.Encrypt] returns one message;
// [Sealer.Decrypt] returns its plaintext. Both take the encryption context,
// which the message header carries in the clear and which binds the message:
// Decrypt requires the header's context to equal the given one exactly.
//
// # Policy
//
// The package uses the AWS Encryption SDK for Go (v0.4.0) and its material
// providers library with a fixed policy:
//
//   - algorithm suite 0x0478, ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY: key
//     commitment, no signature; commitment policy
//     REQUIRE_ENCRYPT_REQUIRE_DECRYPT;
//   - Decrypt refuses any other message version or suite (no downgrade to a
//     non-committing or to a signed suite such as the ESDK's default 0x0578)
//     before it asks KMS, and checks the suite the ESDK reports afterwards;
//   - strict KMS keyrings over full key ARNs only: Decrypt tries only the
//     configured keys, only for encrypted data keys that name them, never
//     discovery; aliases are refused by New;
//   - at most [DefaultMaxEncryptedDataKeys] encrypted data keys per message
//     unless [WithMaxEncryptedDataKeys] says otherwise.
//
// KMS permissions: kms:GenerateDataKey on the first key and kms:Encrypt on
// the others to encrypt; kms:Decrypt on a key to decrypt with it. The ESDK
// sends the encryption context to KMS with each request, so key policies can
// test it (kms:EncryptionContext:KEY) and CloudTrail records it.
//
// # Cost
//
// Every message has its own data key: Encrypt makes one KMS request per
// configured key (GenerateDataKey, then Encrypt for each other key), Decrypt
// one KMS Decrypt. The AWS Encryption SDK for Go has no data key caching (no
// caching materials manager); its only caching alternative is the AWS KMS
// hierarchical keyring, which needs a DynamoDB key store. A payload with many
// encrypted fields therefore costs as many KMS requests.
//
// # Concurrency and contexts
//
// The Go ESDK v0.4.0 writes to a process-global value of its Dafny runtime
// on every Encrypt and Decrypt (aws/aws-encryption-sdk issue 902), a data
// race. This package therefore runs its calls into the ESDK, KMS requests
// included, one at a time per process; concurrent callers queue.
//
// The ESDK calls KMS with a background context. Encrypt and Decrypt return
// ctx.Err() as soon as ctx ends (while queued or during the call) but cannot
// stop a KMS request already sent; it completes in the background and still
// holds the queue. Give the AWS configuration an HTTP client with a timeout
// to bound that.
//
// # Message format
//
// A message is an AWS Encryption SDK message of format version 2. All
// integers are big-endian. The header:
//
//	version                 1 byte   0x02
//	algorithm suite ID      2 bytes  0x04 0x78
//	message ID             32 bytes  random; HKDF salt
//	AAD length              2 bytes  0 when the encryption context is empty
//	AAD                              the encryption context, in the clear:
//	  pair count            2 bytes
//	  per pair, by key:     2-byte key length, key (UTF-8),
//	                        2-byte value length, value (UTF-8)
//	encrypted data keys     2 bytes  count, then per key:
//	  provider ID           2-byte length, "aws-kms"
//	  provider info         2-byte length, the KMS key ARN
//	  encrypted data key    2-byte length, the KMS CiphertextBlob
//	content type            1 byte   0x02 (framed)
//	frame length            4 bytes  4096
//	algorithm suite data   32 bytes  the commitment key
//	header authentication  16 bytes  AES-256-GCM tag over the header bytes
//	                                 above (zero IV, not stored)
//
// The 32-byte data key from KMS is expanded with HKDF-SHA512 (salt: the
// message ID): info suite ID || "DERIVEKEY" gives the AES-256-GCM key,
// info "COMMITKEY" the commitment key, which a reader recomputes and compares
// with the header before it decrypts anything. The body is a sequence of
// frames; a value shorter than the frame length is one final frame:
// 0xFFFFFFFF, sequence number 1 (4 bytes), a 12-byte IV, the 4-byte content
// length, the ciphertext and a 16-byte tag. Suite 0x0478 has no footer.
//
// The size is therefore 132 bytes, plus the AAD (none for an empty context,
// else 2 + the sum over pairs of 4 + len(key) + len(value)), plus
// 13 + len(ARN) + len(CiphertextBlob) per key, plus the plaintext. Measured here for a 20-byte plaintext and a two-pair
// context of 32 AAD bytes, with local-kms (75-byte ARNs, 140-byte blobs):
// 412 bytes with one key and 640 with two (550 and 854 characters in
// unpadded base64url).
//
// # Reading a message from JavaScript
//
// The AWS Encryption SDK for JavaScript (@aws-crypto/client-node) decrypts
// these messages unchanged. Build a client with buildClient, giving
// commitmentPolicy REQUIRE_ENCRYPT_REQUIRE_DECRYPT and a maxEncryptedDataKeys
// limit; build a KmsKeyringNode whose keyIds list the key ARNs the reader
// may use (a strict keyring; for a non-default endpoint such as local-kms, a
// clientProvider made with getClient and the endpoint); decode the token to
// bytes and call decrypt(keyring, bytes), which resolves to the plaintext
// and the parsed messageHeader. Under that commitment policy the JavaScript
// client still accepts the signed suite 0x0578, and by default it compares
// the encryption context with nothing, so the caller then checks
// messageHeader.suiteId against 0x0478
// (ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY) and
// messageHeader.encryptionContext against the expected context, as Decrypt
// does here.
package esdk
