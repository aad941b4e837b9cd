package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names fixed by Standard Webhooks.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

const (
	// SecretPrefix marks a symmetric Standard Webhooks secret.
	SecretPrefix = "whsec_"
	// SecretBytes is how much randomness NewSecret draws; the spec asks
	// for 24 to 64 bytes.
	SecretBytes    = 32
	minSecretBytes = 24
	maxSecretBytes = 64

	// DefaultTolerance is how far a receiver lets webhook-timestamp drift
	// from its clock, as the reference libraries do.
	DefaultTolerance = 5 * time.Minute

	signatureVersion = "v1"
	// maxSignatures bounds the work a hostile webhook-signature header can
	// cause a verifier.
	maxSignatures = 16
)

var (
	// ErrSecret means a secret is not whsec_ + base64 of 24-64 bytes.
	ErrSecret = errors.New("webhook: invalid signing secret")
	// ErrMessageID means a message id is empty or holds a "." or space,
	// which would make the signed content ambiguous.
	ErrMessageID = errors.New("webhook: invalid message id")
	// ErrMissingHeaders means a webhook-* header is absent.
	ErrMissingHeaders = errors.New("webhook: missing webhook-id, webhook-timestamp or webhook-signature")
	// ErrTimestamp means webhook-timestamp is malformed or outside the tolerance.
	ErrTimestamp = errors.New("webhook: timestamp outside tolerance")
	// ErrSignature means no v1 signature in the header matched.
	ErrSignature = errors.New("webhook: no matching signature")
)

// NewSecret makes an endpoint secret: whsec_ + base64 of SecretBytes random bytes.
func NewSecret() (string, error) {
	b := make([]byte, SecretBytes)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		return "", fmt.Errorf("webhook: new secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// secretKey is the HMAC key a secret carries. Like the reference libraries
// it accepts the bare base64 form too, so receivers may paste either.
func secretKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || len(key) < minSecretBytes || len(key) > maxSecretBytes {
		return nil, ErrSecret
	}
	return key, nil
}

// Sign returns the Standard Webhooks v1 signature of body:
// "v1," + base64(HMAC-SHA256(key, msgID + "." + unix seconds + "." + body)).
func Sign(secret, msgID string, ts time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	if msgID == "" || strings.ContainsAny(msgID, ". \t\r\n") {
		return "", ErrMessageID
	}
	return signatureVersion + "," + base64.StdEncoding.EncodeToString(mac(key, msgID, ts.Unix(), body)), nil
}

func mac(key []byte, msgID string, unix int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msgID))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, unix, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Headers returns the three Standard Webhooks headers for one attempt. ts
// is the time of the attempt, not of the event: the spec has it change on
// every retry so receivers can reject replays.
func Headers(secret, msgID string, ts time.Time, body []byte) (http.Header, error) {
	sig, err := Sign(secret, msgID, ts, body)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, 3)
	// Set canonicalises to Webhook-Id etc.; HTTP header names are
	// case-insensitive and every receiver library looks them up that way.
	h.Set(HeaderID, msgID)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, sig)
	return h, nil
}

// Verify checks a received webhook as a receiver would: the headers are
// present, the timestamp is within tolerance of now (DefaultTolerance when
// tolerance <= 0), and one of the space-separated v1 signatures matches,
// compared in constant time.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := secretKey(secret)
	if err != nil {
		return err
	}
	id, tsText, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return ErrMissingHeaders
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	unix, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return ErrTimestamp
	}
	if d := now.Sub(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
		return ErrTimestamp
	}
	want := mac(key, id, unix, body)
	for i, s := range strings.Fields(sigs) {
		if i == maxSignatures {
			break
		}
		v, b64, ok := strings.Cut(s, ",")
		if !ok || v != signatureVersion {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrSignature
}
