package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// deviceTokens sign the "known device" token a browser gets after a successful login (an HttpOnly cookie):
// a device that has logged in to an account before is not held back by the account-wide limit on failed logins,
// so strangers guessing a password cannot lock the owner out of their own devices (OWASP's device cookies).
// A token names the account and a random device id, and carries an expiry and an HMAC; nothing is stored.
type deviceTokens struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

// DeviceTokenTTL is how long a device stays known without logging in again.
const DeviceTokenTTL = 180 * 24 * time.Hour

func newDeviceTokens(signingKey []byte) *deviceTokens {
	// A key of its own, derived from the access token key: a device token can never pass for an access token.
	m := hmac.New(sha256.New, signingKey)
	m.Write([]byte("parley device token v1"))
	return &deviceTokens{key: m.Sum(nil), ttl: DeviceTokenTTL, now: time.Now}
}

func (d *deviceTokens) mac(payload string) string {
	m := hmac.New(sha256.New, d.key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// issue returns a new token for userID on a new device id.
func (d *deviceTokens) issue(userID int64) (string, error) {
	id := make([]byte, 12)
	if _, err := rand.Read(id); err != nil {
		return "", err
	}
	payload := "d1." + strconv.FormatInt(userID, 10) + "." + base64.RawURLEncoding.EncodeToString(id) + "." +
		strconv.FormatInt(d.now().Add(d.ttl).Unix(), 10)
	return payload + "." + d.mac(payload), nil
}

// verify returns the device id of a valid, unexpired token of userID.
func (d *deviceTokens) verify(token string, userID int64) (string, bool) {
	if token == "" || len(token) > 200 {
		return "", false
	}
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return "", false
	}
	payload, sig := token[:i], token[i+1:]
	if !hmac.Equal([]byte(sig), []byte(d.mac(payload))) {
		return "", false
	}
	parts := strings.Split(payload, ".")
	if len(parts) != 4 || parts[0] != "d1" || parts[1] != strconv.FormatInt(userID, 10) {
		return "", false
	}
	exp, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || !d.now().Before(time.Unix(exp, 0)) {
		return "", false
	}
	return parts[2], true
}
