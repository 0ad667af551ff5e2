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
//
// # Which door to use
//
// Most programs reach the codec through a door made for them, which reads
// the same configuration file:
//
//   - a Go Lambda function of a workflow wraps its handler with
//     [github.com/sfnenc/sfnenc/lambdamw.WrapHandler]: plaintext inside the
//     handler, tokens in and out, by the contract of the rules ([Scope]);
//   - a function in another language runs behind the Runtime API proxy of
//     the sfnenc Lambda layer (cmd/sfnenc-proxy), which applies the same
//     contract;
//   - a backend service that starts executions or completes tasks gives its
//     Step Functions client [github.com/sfnenc/sfnenc/sfnclient.WithEncryption]
//     (with sfnclient.WithDecryption to read what comes back);
//   - an operator reads history, CloudWatch Logs and Distributed Map
//     results with the sfn-decrypt command (cmd/sfn-decrypt).
//
// Call [Codec.Encrypt] and [Codec.Decrypt] (or [Codec.DecryptPartial], which
// leaves the tokens it cannot open in place) for documents that travel
// another way.
//
// # Compatibility
//
// Tokens that sfnenc wrote stay readable under the configuration that wrote
// them: a later version decrypts every token format and mode an earlier one
// wrote, given the same keyrings, encryption context and class names. The
// token vectors in testdata/vectors, committed and rewritten only on purpose
// (the test's -update flag), must keep decrypting to what they hold. A
// change of configuration is a migration: a class moved to another keyring
// or format keeps reading the old tokens while its rule's "read" list names
// the old one, and a changed encryption context or business key makes
// earlier tokens of that class fail authentication.
package codec
