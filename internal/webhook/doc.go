// Package webhook holds the pieces of outgoing webhooks that need no
// database (W1, W2): Standard Webhooks signing and verification, an
// SSRF-safe HTTP client, a single signed delivery attempt, and the retry
// schedule the outbox dispatcher follows.
//
// Standard Webhooks: https://github.com/standard-webhooks/standard-webhooks
// (spec/standard-webhooks.md). Receivers using its official libraries
// verify what Sign produces; TestSignSpecVector proves it with the
// libraries' published test vector.
package webhook
