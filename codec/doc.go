// Package codec encrypts selected fields of JSON documents in place, so that
// AWS Step Functions only ever stores and passes ciphertext for them.
//
// A [Config] (usually read with [LoadConfig]) names keyrings, an encryption
// context and rules; each rule gives a class name and RFC 9535 JSONPath
// selectors. [New] builds a [Codec] from it. [Codec.Encrypt] replaces each
// selected value, of any JSON type, by one string token and leaves every
// other byte of the document as it was; [Codec.Decrypt] finds tokens
// wherever they are (Step Functions may have moved them) and puts the
// original values back, byte for byte. A token carries what is needed to
// decrypt it: its class, its data key wrapped by each key of the keyring,
// and the sealed value. It is bound to its class and the encryption
// context, not to its position. SECURITY.md specifies the token format and
// what it protects against.
package codec
