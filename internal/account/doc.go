// Package account holds the pure rules behind accounts and sessions: email
// normalisation, the password policy and bcrypt hashing, signed access
// tokens, refresh-token material, brute-force throttling and client-IP
// resolution (SPEC A1–A4, A6).
//
// It does no database or network I/O; the store keeps what this package
// produces (hashes, token hashes) and the server wires the pieces to HTTP.
package account
