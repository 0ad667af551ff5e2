// Package bench compares sfnenc with the approaches a user would otherwise
// pick, on a real KMS API (local-kms on loopback, behind a proxy that counts
// requests). It has no API: its tests and benchmarks are the product.
//
//   - TestKMSRequestCounts and BenchmarkKMSRoundTrip: KMS requests, and time,
//     for encrypting and decrypting one small field at a time with the
//     codec, with Tink's KMS envelope AEAD and with the AWS Encryption SDK
//     for Go (no cache).
//   - TestSize and BenchmarkSize: bytes added per encrypted field by native
//     and ESDK-mode tokens and by bare AWS Encryption SDK messages, and how
//     many encrypted 20-byte fields fit in a 256 KiB Step Functions payload.
//   - TestHandlerBinarySize: the size of a stripped Lambda handler binary
//     without and with the middleware.
//   - TestFleet: KMS requests of envelope and keyset mode for a simulated
//     fleet of warm containers (each its own codec), checked against the
//     cache model.
//
// They are measurements, slow (minutes), and run only with SFNENC_BENCH=1,
// as make bench sets it; the codec's own KMS request bound is a test of
// package codec (TestKMSCallsAreCached) that always runs. BENCHMARKS.md at
// the repository root gives the figures and how to reproduce them.
package bench
