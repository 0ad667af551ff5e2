// Package envelope holds the key side of sfnenc: data keys, the keyrings that
// wrap them, and the caches that keep KMS out of the hot path. It knows
// nothing of JSON.
//
// A [Keyring] makes and unwraps data keys: [NewKMS] over AWS KMS,
// [NewInsecureLocal] over a local Tink keyset for development and tests, and
// [Multi], which wraps one data key under several keyrings (a primary key and
// break-glass keys) so that any of them can unwrap it.
//
// A [DataKey] seals and opens field values with AES-256-GCM under a key
// derived from the data key with HKDF-SHA256, and carries a key commitment
// that [DataKey.Open] checks before it decrypts. [EncryptCache] hands out
// data keys for new tokens within limits of age, uses and bytes;
// [DecryptCache] remembers unwrapped data keys. Both make a single keyring
// call for concurrent misses on the same key.
//
// Package envelope/keyset is keyset mode's key side: per-class keysets kept
// encrypted by KMS, loaded with one KMS call per class per process.
package envelope
