package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parleychat/parley/internal/apperr"
)

// Claims identify the user and the session an access token was issued for.
type Claims struct {
	UserID    int64
	SessionID int64
	ExpiresAt time.Time
}

type jwtClaims struct {
	SessionID string `json:"sid"`
	jwt.RegisteredClaims
}

// TokenIssuer signs and verifies access tokens (HS256 only: the parser rejects every other algorithm,
// `none` included).
type TokenIssuer struct {
	key      []byte
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
}

func NewTokenIssuer(key []byte, issuer, audience string, ttl time.Duration) *TokenIssuer {
	return &TokenIssuer{key: key, issuer: issuer, audience: audience, ttl: ttl, now: time.Now}
}

// Issue signs an access token.
func (t *TokenIssuer) Issue(userID, sessionID int64) (string, time.Time, error) {
	now := t.now()
	exp := now.Add(t.ttl)
	claims := jwtClaims{
		SessionID: strconv.FormatInt(sessionID, 10),
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   strconv.FormatInt(userID, 10),
			Issuer:    t.issuer,
			Audience:  jwt.ClaimStrings{t.audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-5 * time.Second)),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.key)
	return s, exp, err
}

// Verify checks signature, algorithm, iss, aud, exp, nbf and iat. An expired token gives TokenExpired, every
// other problem Unauthorized.
func (t *TokenIssuer) Verify(token string) (Claims, error) {
	var c jwtClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(t.issuer),
		jwt.WithAudience(t.audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(t.now),
		jwt.WithLeeway(5*time.Second),
	)
	if errors.Is(err, jwt.ErrTokenExpired) {
		return Claims{}, apperr.New(apperr.TokenExpired, "access token expired")
	}
	if err != nil {
		return Claims{}, apperr.New(apperr.Unauthorized, "invalid access token")
	}
	uid, err1 := strconv.ParseInt(c.Subject, 10, 64)
	sid, err2 := strconv.ParseInt(c.SessionID, 10, 64)
	if err1 != nil || err2 != nil || uid <= 0 || sid <= 0 {
		return Claims{}, apperr.New(apperr.Unauthorized, "invalid access token")
	}
	return Claims{UserID: uid, SessionID: sid, ExpiresAt: c.ExpiresAt.Time}, nil
}

// newSecretToken returns a random 256-bit token and the SHA-256 hash that is stored instead of it.
func newSecretToken() (string, []byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	return tok, hashSecretToken(tok), nil
}

func hashSecretToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}
