package wire

// Socket.IO event names and payloads, in one place (the Go side of frontend/src/api/types.ts:
// ClientToServerEvents and ServerToClientEvents). Client payloads are decoded straight into these structs.

// Events a client sends.
const (
	EventMessageSend      = "message:send"
	EventMessageEdit      = "message:edit"
	EventMessageDelete    = "message:delete"
	EventMessagesSync     = "messages:sync"
	EventTypingStart      = "typing:start"
	EventTypingStop       = "typing:stop"
	EventPresenceSet      = "presence:set"
	EventReceiptRead      = "receipt:read"
	EventMessageDelivered = "message:delivered"
	EventReactionAdd      = "reaction:add"
	EventReactionRemove   = "reaction:remove"
)

// Events the server sends.
const (
	EventMessageSent      = "message:sent"
	EventMessageNew       = "message:new"
	EventMessageUpdated   = "message:updated"
	EventMessageDeleted   = "message:deleted"
	EventTypingUser       = "typing:user"
	EventPresenceUpdate   = "presence:update"
	EventPresenceBatch    = "presence:batch"
	EventReceiptUpdate    = "receipt:update"
	EventReceiptDelivered = "receipt:delivered"
	EventUnreadUpdate     = "unread:update"
	EventServerUpdate     = "server:update"
	EventChannelUpdate    = "channel:update"
	EventMemberUpdate     = "member:update"
	EventSessionRevoked   = "session:revoked"
	EventSettingsUpdate   = "settings:update"
	EventPinUpdate        = "pin:update"
	EventReactionUpdate   = "reaction:update"
	EventE2EESync         = "e2ee:sync"
)

// Client payloads.

// SendMessagePayload is message:send.
type SendMessagePayload struct {
	ChannelID string `json:"channelId"`
	Content   string `json:"content"`
	Nonce     string `json:"nonce"`
	ReplyTo   string `json:"replyTo,omitempty"`   // optional: the id of the message (same channel) it answers
	Encrypted bool   `json:"encrypted,omitempty"` // content is an MLS ciphertext (base64); DMs only
	// Attachments: ids of files the sender uploaded to this channel (POST /api/channels/:id/attachments); with
	// them the content may be empty.
	Attachments []string `json:"attachments,omitempty"`
}

// MessageRef is message:delete, receipt:read and message:delivered.
type MessageRef struct {
	ChannelID string `json:"channelId"`
	MessageID string `json:"messageId"`
}

// EditMessagePayload is message:edit.
type EditMessagePayload struct {
	MessageRef
	Content   string `json:"content"`
	Encrypted bool   `json:"encrypted,omitempty"` // content is new ciphertext (required in an encrypted DM)
}

// SyncPayload is messages:sync: the last message id the client has, per channel ("" or "0": none).
type SyncPayload struct {
	Channels map[string]string `json:"channels"`
}

// ChannelRef is typing:start and typing:stop.
type ChannelRef struct {
	ChannelID string `json:"channelId"`
}

// PresenceSetPayload is presence:set.
type PresenceSetPayload struct {
	Status string `json:"status"`
}

// ReactionPayload is reaction:add and reaction:remove: the caller's reaction to a message.
type ReactionPayload struct {
	ChannelID string `json:"channelId"`
	MessageID string `json:"messageId"`
	Emoji     string `json:"emoji"`
}

// Server payloads (message:sent, message:new and message:updated carry a Message; presence:update a Presence).

type SyncResult struct {
	Messages map[string][]Message `json:"messages"`
	HasMore  map[string]bool      `json:"hasMore"`
}

// PinUpdateEvent is pin:update: a message was pinned or unpinned.
type PinUpdateEvent struct {
	ChannelID string `json:"channelId"`
	MessageID string `json:"messageId"`
	UserID    string `json:"userId"`
	Pinned    bool   `json:"pinned"`
}

// Ack is an event's successful answer: {ok: true} and the event's result fields.
type Ack interface{ ack() }

// MessageAck answers message:send and message:edit.
type MessageAck struct {
	OK      bool    `json:"ok"`
	Message Message `json:"message"`
}

// ReactionAck answers reaction:add and reaction:remove: the emoji's reactions as the caller now sees them.
type ReactionAck struct {
	OK       bool     `json:"ok"`
	Reaction Reaction `json:"reaction"`
}

// SyncAck answers messages:sync.
type SyncAck struct {
	OK bool `json:"ok"`
	SyncResult
}

func (MessageAck) ack()  {}
func (ReactionAck) ack() {}
func (SyncAck) ack()     {}

func NewMessageAck(m Message) MessageAck    { return MessageAck{OK: true, Message: m} }
func NewReactionAck(r Reaction) ReactionAck { return ReactionAck{OK: true, Reaction: r} }
func NewSyncAck(r SyncResult) SyncAck       { return SyncAck{OK: true, SyncResult: r} }

type MessageDeletedEvent struct {
	ChannelID string `json:"channelId"`
	MessageID string `json:"messageId"`
}

type TypingEvent struct {
	ChannelID string `json:"channelId"`
	UserID    string `json:"userId"`
	Typing    bool   `json:"typing"`
}

type PresenceBatchEvent struct {
	Updates []Presence `json:"updates"`
}

type ReceiptEvent struct {
	ChannelID string `json:"channelId"`
	UserID    string `json:"userId"`
	MessageID string `json:"messageId"`
}

type UnreadEvent struct {
	ChannelID    string `json:"channelId"`
	UnreadCount  int    `json:"unreadCount"`
	MentionCount int    `json:"mentionCount"`
	LastReadID   string `json:"lastReadId"`
}

// E2EESyncEvent is a notice of the key service (README "End-to-end encrypted DMs"): sync now.
type E2EESyncEvent struct {
	Reason   string `json:"reason"`
	GroupID  string `json:"groupId,omitempty"`
	DeviceID string `json:"deviceId,omitempty"`
}

// IDOnly is a reference to a removed server, or a member's user, where only the id is known.
type IDOnly struct {
	ID string `json:"id"`
}

type ServerUpdateEvent struct {
	Server any    `json:"server"` // Server, or IDOnly when deleted/left
	Action string `json:"action"`
}

type ChannelUpdateEvent struct {
	Channel Channel `json:"channel"`
	Action  string  `json:"action"`
}

type MemberUpdateEvent struct {
	ServerID string `json:"serverId"`
	Member   any    `json:"member"` // Member, or {user: IDOnly} when the member left
	Action   string `json:"action"`
}

// MemberGone is the member of a member:update whose member left or was kicked.
type MemberGone struct {
	User IDOnly `json:"user"`
}

type SessionRevokedEvent struct {
	Reason string `json:"reason"`
}

// ReactionUpdateEvent is reaction:update: userId added or removed their reaction; count is the emoji's new
// total on the message and userIds the first few who reacted (for tooltips).
type ReactionUpdateEvent struct {
	ChannelID string   `json:"channelId"`
	MessageID string   `json:"messageId"`
	Emoji     string   `json:"emoji"`
	Count     int      `json:"count"`
	UserID    string   `json:"userId"`
	Action    string   `json:"action"` // "add" or "remove"
	UserIDs   []string `json:"userIds"`
}
