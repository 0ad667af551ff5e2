// Package kmstest runs a real KMS-API server for tests: a local-kms process
// reached on loopback, seeded with fixed symmetric keys, behind an HTTP
// reverse proxy on 127.0.0.1 that counts requests and can inject faults.
// local-kms itself has no setting for its address and listens on all
// interfaces, on a random port (see the README).
//
// [Start] launches local-kms (the binary comes from
// [github.com/sfnenc/sfnenc/internal/testbin]) with a fresh data directory
// and the seed keys, starts the proxy on 127.0.0.1, and stops both when the
// test ends. Each call gets its own process, so tests may run in parallel
// and may stop, disable or fault their server without affecting others;
// start-up takes tens of milliseconds.
//
// Clients reach the server through the proxy only:
//
//   - [Server.Config] returns an aws-sdk-go-v2 configuration (region, dummy
//     static credentials, the proxy as endpoint) for real KMS clients;
//   - [Server.Env] returns the standard AWS environment variables
//     (AWS_ENDPOINT_URL_KMS and friends) for subprocesses such as a Lambda
//     handler or the command-line tool.
//
// Three AES-256 keys are seeded with fixed key ids and key material, so their
// ARNs ([Server.KeyARN]) and the ciphertexts they produce are the same in
// every run: "primary", "breakglass" and "other", each with an alias
// alias/sfnenc-<name> ([Server.AliasARN]). All three live in the one account
// and region of the server (111122223333, eu-west-2).
//
// [Server.Requests] counts the requests by operation (the X-Amz-Target
// action, such as "GenerateDataKey" or "Decrypt"), including those answered
// by an injected fault. [Server.Inject] makes the proxy answer matching
// requests with a fault instead of, or after, forwarding them; it exists only
// for fault-injection tests. [Server.Stop] kills the local-kms process to
// simulate an outage: the proxy then answers every request with HTTP 502.
//
// local-kms differs from AWS KMS in ways tests must allow for: it has no key
// policies or grants, it answers Decrypt with a wrong KeyId or a wrong key
// with InvalidCiphertextException (AWS KMS: IncorrectKeyException), and it
// answers Decrypt without a KeyId under a disabled key with
// AccessDeniedException (AWS KMS: DisabledException). An encryption context mismatch fails with
// InvalidCiphertextException, as in AWS KMS.
package kmstest
