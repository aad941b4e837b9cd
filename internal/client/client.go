// Package client is the typed Go client of diffgate's API, used by the CLI
// and by end-to-end tests.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/diffgate/diffgate/internal/report"
)

// Client calls one diffgate server.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// New makes a client for the server at baseURL, authenticating with token
// (an API key or a session access token; empty for none).
func New(baseURL, token string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http(s)://host[:port]", baseURL)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Minute}
	}
	// The credential must not follow a redirect to another place.
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, http: &c}, nil
}

// WithToken returns a copy of c that authenticates with token.
func (c *Client) WithToken(token string) *Client {
	n := *c
	n.token = token
	return &n
}

// Error is an API error: the problem document the server answered with.
type Error struct {
	Status     int
	Title      string `json:"title"`
	Detail     string `json:"detail"`
	Type       string `json:"type"`
	RequestID  string `json:"request_id"`
	RetryAfter string
}

func (e *Error) Error() string {
	msg := e.Detail
	if msg == "" {
		msg = e.Title
	}
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	s := fmt.Sprintf("server answered %d: %s", e.Status, msg)
	if e.RetryAfter != "" {
		s += " (retry after " + e.RetryAfter + "s)"
	}
	return s
}

func (c *Client) do(ctx context.Context, method, path, contentType string, body io.Reader, out any) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		e := &Error{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
		_ = json.Unmarshal(b, e)
		return resp, e
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp, fmt.Errorf("decode answer: %w", err)
		}
	}
	return resp, nil
}

func (c *Client) doJSON(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	ct := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, ct = bytes.NewReader(b), "application/json"
	}
	_, err := c.do(ctx, method, path, ct, body, out)
	return err
}

// Review sends a raw diff for review by the named reviewers (the server's
// default when none).
func (c *Client) Review(ctx context.Context, diff []byte, reviewers []string) (*report.Document, error) {
	path := "/v1/reviews"
	if len(reviewers) > 0 {
		path += "?reviewers=" + url.QueryEscape(strings.Join(reviewers, ","))
	}
	var doc report.Document
	if _, err := c.do(ctx, http.MethodPost, path, "text/x-diff", bytes.NewReader(diff), &doc); err != nil {
		return nil, err
	}
	return &doc, nil
}

// Tokens is a session's tokens.
type Tokens struct {
	AccessToken  string    `json:"access_token"`
	TokenType    string    `json:"token_type"`
	ExpiresIn    int64     `json:"expires_in"`
	ExpiresAt    time.Time `json:"expires_at"`
	RefreshToken string    `json:"refresh_token"`
}

// User is an account.
type User struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// Key is an API key; Key.Key holds the secret only when just created.
type Key struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Sandbox    bool       `json:"sandbox"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	Key        string     `json:"key,omitempty"`
}

// NewKey describes a key to create.
type NewKey struct {
	Name      string   `json:"name"`
	Scopes    []string `json:"scopes,omitempty"`
	Sandbox   bool     `json:"sandbox,omitempty"`
	ExpiresIn string   `json:"expires_in,omitempty"`
}

// Setup creates the owner account with the one-time setup token.
func (c *Client) Setup(ctx context.Context, token, email, password string) (User, error) {
	var u User
	err := c.doJSON(ctx, http.MethodPost, "/v1/setup", map[string]string{"token": token, "email": email, "password": password}, &u)
	return u, err
}

// Signup asks for an account.
func (c *Client) Signup(ctx context.Context, email, password string) error {
	return c.doJSON(ctx, http.MethodPost, "/v1/auth/signup", map[string]string{"email": email, "password": password}, nil)
}

// Login opens a session.
func (c *Client) Login(ctx context.Context, email, password string) (Tokens, error) {
	var t Tokens
	err := c.doJSON(ctx, http.MethodPost, "/v1/auth/login", map[string]string{"email": email, "password": password}, &t)
	return t, err
}

// Refresh rotates a refresh token.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (Tokens, error) {
	var t Tokens
	err := c.doJSON(ctx, http.MethodPost, "/v1/auth/refresh", map[string]string{"refresh_token": refreshToken}, &t)
	return t, err
}

// Logout revokes the session of refreshToken.
func (c *Client) Logout(ctx context.Context, refreshToken string) error {
	return c.doJSON(ctx, http.MethodPost, "/v1/auth/logout", map[string]string{"refresh_token": refreshToken}, nil)
}

// ChangePassword changes the caller's password (session token only).
func (c *Client) ChangePassword(ctx context.Context, current, next string) error {
	return c.doJSON(ctx, http.MethodPost, "/v1/auth/password", map[string]string{"current_password": current, "new_password": next}, nil)
}

// Me is the calling user.
func (c *Client) Me(ctx context.Context) (User, error) {
	var u User
	err := c.doJSON(ctx, http.MethodGet, "/v1/me", nil, &u)
	return u, err
}

// CreateKey creates an API key; the answer holds its secret, once.
func (c *Client) CreateKey(ctx context.Context, k NewKey) (Key, error) {
	var out Key
	err := c.doJSON(ctx, http.MethodPost, "/v1/keys", k, &out)
	return out, err
}

// ListKeys lists the caller's keys.
func (c *Client) ListKeys(ctx context.Context) ([]Key, error) {
	var out struct {
		Keys []Key `json:"keys"`
	}
	err := c.doJSON(ctx, http.MethodGet, "/v1/keys", nil, &out)
	return out.Keys, err
}

// RevokeKey revokes one of the caller's keys.
func (c *Client) RevokeKey(ctx context.Context, id string) error {
	return c.doJSON(ctx, http.MethodDelete, "/v1/keys/"+url.PathEscape(id), nil, nil)
}

// RequestLog is one row of the caller's request log.
type RequestLog struct {
	At        time.Time `json:"at"`
	RequestID string    `json:"request_id"`
	KeyID     string    `json:"key_id"`
	Method    string    `json:"method"`
	Route     string    `json:"route"`
	Reviewers []string  `json:"reviewers"`
	Models    []string  `json:"models"`
	Status    int       `json:"status"`
	LatencyMS int64     `json:"latency_ms"`
	DiffBytes int64     `json:"diff_bytes"`
	Findings  int       `json:"findings"`
	Cached    bool      `json:"cached"`
}

// Requests lists the caller's request log.
func (c *Client) Requests(ctx context.Context, limit int) ([]RequestLog, error) {
	var out struct {
		Requests []RequestLog `json:"requests"`
	}
	err := c.doJSON(ctx, http.MethodGet, fmt.Sprintf("/v1/requests?limit=%d", limit), nil, &out)
	return out.Requests, err
}

// Quote is what a review would reserve.
type Quote struct {
	Credits   int64    `json:"credits"`
	Balance   int64    `json:"balance"`
	Reviewers []string `json:"reviewers"`
	Sandbox   bool     `json:"sandbox"`
}

// QuoteReview asks what reviewing diff would reserve.
func (c *Client) QuoteReview(ctx context.Context, diff []byte, reviewers []string) (Quote, error) {
	path := "/v1/reviews/quote"
	if len(reviewers) > 0 {
		path += "?reviewers=" + url.QueryEscape(strings.Join(reviewers, ","))
	}
	var q Quote
	_, err := c.do(ctx, http.MethodPost, path, "text/x-diff", bytes.NewReader(diff), &q)
	return q, err
}

// LedgerEntry is one movement of credits.
type LedgerEntry struct {
	ID           int64     `json:"id"`
	Kind         string    `json:"kind"`
	Amount       int64     `json:"amount"`
	BalanceAfter int64     `json:"balance_after"`
	Reference    string    `json:"reference"`
	At           time.Time `json:"at"`
}

// Credits is a balance, the credits held for reviews still running, and
// the latest ledger entries, which sum to Balance + Held.
type Credits struct {
	Balance int64         `json:"balance"`
	Held    int64         `json:"held"`
	Entries []LedgerEntry `json:"entries"`
}

// Credits shows the caller's balance and ledger.
func (c *Client) Credits(ctx context.Context) (Credits, error) {
	var out Credits
	err := c.doJSON(ctx, http.MethodGet, "/v1/credits", nil, &out)
	return out, err
}

// Grant gives credits to the account of email (owner or admin only).
func (c *Client) Grant(ctx context.Context, email string, amount int64, reason string) (int64, error) {
	var out struct {
		Balance int64 `json:"balance"`
	}
	err := c.doJSON(ctx, http.MethodPost, "/v1/admin/credits", map[string]any{"email": email, "amount": amount, "reason": reason}, &out)
	return out.Balance, err
}

// Refund is what a refund gave back, and to whom.
type Refund struct {
	ReviewID string `json:"review_id"`
	UserID   int64  `json:"user_id"`
	Refunded int64  `json:"refunded"`
	Balance  int64  `json:"balance"`
}

// RefundReview gives back what a finished review was charged, once (owner
// or admin).
func (c *Client) RefundReview(ctx context.Context, reviewID string) (Refund, error) {
	var out Refund
	err := c.doJSON(ctx, http.MethodPost, "/v1/admin/reviews/"+url.PathEscape(reviewID)+"/refund", nil, &out)
	return out, err
}

// UserCredits shows another account's balance and ledger (owner or admin).
func (c *Client) UserCredits(ctx context.Context, email string) (Credits, error) {
	var out Credits
	err := c.doJSON(ctx, http.MethodGet, "/v1/admin/credits?email="+url.QueryEscape(email), nil, &out)
	return out, err
}
