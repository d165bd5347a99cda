package messaging

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/rules"
)

// MaxContentRunes is the longest message accepted.
const MaxContentRunes = rules.MessageMaxRunes

// cleanContent trims a message and rejects what no client should send: empty text, more than 4,000
// characters, invalid UTF-8, or control characters other than newline and tab.
func cleanContent(content string) (string, error) {
	if !utf8.ValidString(content) {
		return "", apperr.InvalidField("content", "message must be valid UTF-8")
	}
	content = strings.TrimSpace(content)
	n := utf8.RuneCountInString(content)
	if n == 0 {
		return "", apperr.InvalidField("content", "message is empty")
	}
	if n > MaxContentRunes {
		return "", apperr.InvalidField("content", "message is longer than 4000 characters")
	}
	for _, r := range content {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return "", apperr.InvalidField("content", "message contains control characters")
		}
	}
	return content, nil
}

// checkNonce validates a client idempotency key.
func checkNonce(nonce string) error {
	if nonce == "" {
		return apperr.InvalidField("nonce", "nonce is required (a client-generated id, reused when retrying)")
	}
	if len(nonce) > 64 || !utf8.ValidString(nonce) || strings.ContainsFunc(nonce, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		return apperr.InvalidField("nonce", "nonce must be 1-64 printable characters")
	}
	return nil
}

// MaxCiphertextBytes bounds an encrypted message's content (base64 of an MLS PrivateMessage): room for the
// 4,000 characters of a plain message in UTF-8, plus MLS framing and padding, in base64.
const MaxCiphertextBytes = 24 << 10

// checkCiphertext accepts the content of an end-to-end encrypted message: standard base64, decodable, not empty,
// within MaxCiphertextBytes. The server cannot check more: only the members' devices can open it.
func checkCiphertext(content string) error {
	if content == "" || len(content) > MaxCiphertextBytes {
		return apperr.InvalidField("content", "encrypted content must be 1 to 24 KiB of base64")
	}
	if _, err := base64.StdEncoding.Strict().DecodeString(content); err != nil {
		return apperr.InvalidField("content", "encrypted content must be standard base64")
	}
	return nil
}
