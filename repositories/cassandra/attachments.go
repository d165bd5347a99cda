package cassandra

import (
	"encoding/json"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/parleychat/parley/internal/model"
)

// storedAttachment is an attachment's summary in its message row: what a client needs to show it. The object
// keys stay in Postgres (attachments table), which the download path reads anyway for its access check.
type storedAttachment struct {
	ID          int64  `json:"id"`
	Name        string `json:"n"`
	ContentType string `json:"t"`
	Size        int64  `json:"s"`
	Width       int    `json:"w,omitempty"`
	Height      int    `json:"h,omitempty"`
	Preview     bool   `json:"p,omitempty"`
	Snippet     string `json:"x,omitempty"`
}

// attachmentsValue encodes a message's attachments for its row (unset when it has none).
func attachmentsValue(as []model.Attachment) (any, int) {
	if len(as) == 0 {
		return gocql.UnsetValue, 0
	}
	out := make([]storedAttachment, len(as))
	for i, a := range as {
		out[i] = storedAttachment{ID: a.ID, Name: a.Name, ContentType: a.ContentType, Size: a.Size, Width: a.Width, Height: a.Height,
			Preview: a.Preview, Snippet: a.Snippet}
	}
	b, _ := json.Marshal(out) // plain values: cannot fail
	return string(b), len(b)
}

// decodeAttachments reads the column back; a value this code cannot read yields no attachments rather than a
// failed history page.
func decodeAttachments(channelID, messageID, senderID int64, s string) []model.Attachment {
	if s == "" {
		return nil
	}
	var in []storedAttachment
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil
	}
	out := make([]model.Attachment, len(in))
	for i, a := range in {
		out[i] = model.Attachment{ID: a.ID, OwnerID: senderID, ChannelID: channelID, MessageID: messageID, Status: model.AttachmentAttached,
			Name: a.Name, ContentType: a.ContentType, Size: a.Size, Width: a.Width, Height: a.Height, Preview: a.Preview, Snippet: a.Snippet}
	}
	return out
}
