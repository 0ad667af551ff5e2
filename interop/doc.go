// Package interop holds the cross-language tests of sfnenc's ESDK token mode
// (SECURITY.md, "ESDK mode"): the AWS Encryption SDK for JavaScript, driven
// by the script esdk-js/sfnenc-esdk.mjs, decrypts fields that the Go codec
// encrypted and encrypts fields that the Go codec decrypts, both through a
// local KMS. It also measures what the mode costs beside the native one.
// The package has no API; README.md shows how another language reads a field.
package interop
