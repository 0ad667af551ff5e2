// Package envelope is the key side of sfnenc: the keyrings that make, wrap
// and unwrap data keys, and their errors. It knows nothing of JSON, and
// nothing of how the codec uses a data key (package internal/datakey derives
// the field keys, seals and opens values, and caches data keys).
//
// A [Keyring] makes and unwraps data keys: [NewKMS] over AWS KMS,
// [NewInsecureLocal] over a local Tink keyset for development and tests, and
// [Multi], which wraps one data key under several keyrings (a primary key and
// break-glass keys) so that any of them can unwrap it. [KMSClients] and
// [DefaultKMSClients] make the KMS clients, one per region. Errors are
// *[KeyError] values that wrap [ErrNoKey], [ErrDenied], [ErrInvalidKey] or
// [ErrUnavailable]; [MayTryAnother] says when a reader may try another
// wrapped key. A [MessageSealer] is a format whose messages carry their own
// data keys (package envelope/esdk); package envelope/keyset holds the
// KMS-encrypted keysets of keyset mode.
package envelope
