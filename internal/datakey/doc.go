// Package datakey is what the codec does with a data key: a [Key] derives
// the field key and the key commitment from the data key's secret with
// HKDF-SHA256, seals values with AES-256-GCM under random nonces ([Nonces]
// draws them from crypto/rand in batches) and opens them after checking the
// commitment; [EncryptCache] hands out data keys for new tokens within
// [Limits] of age, uses and bytes, and [DecryptCache] remembers unwrapped
// ones. Both make a single keyring call for concurrent misses on one key.
// SECURITY.md ("Cryptographic design") specifies the derivation.
package datakey
