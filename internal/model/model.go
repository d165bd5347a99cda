// Package model holds the domain types shared by services and repositories. They carry no behaviour and no
// wire format: controllers convert them to JSON shapes, repositories to rows and documents.
package model

import (
	"errors"
	"time"
)

// Roles of a server member, strongest first.
const (
	RoleOwner  = "owner"
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// Channel kinds.
const (
	ChannelText = "text"
	ChannelDM   = "dm"
)

// Presence statuses.
const (
	StatusOnline  = "online"
	StatusIdle    = "idle"
	StatusOffline = "offline"
	// Chosen by the user (issue #16): do-not-disturb is shown to others; invisible is shown as offline.
	StatusDND       = "dnd"
	StatusInvisible = "invisible"
)

type User struct {
	ID           int64
	Username     string
	Email        string
	PasswordHash string
	DisplayName  string
	AvatarURL    string
	Disabled     bool
	CreatedAt    time.Time
}

// Session is one login; its refresh tokens rotate within it.
type Session struct {
	ID        int64
	UserID    int64
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt *time.Time
}

type Server struct {
	ID          int64
	Name        string
	OwnerID     int64
	CreatedAt   time.Time
	MemberCount int
	Role        string // the requesting user's role, when loaded for a user
	// MembersCanInvite: plain members may create invites (owners and admins always may).
	MembersCanInvite bool
	IconURL          string // "" or a path under AvatarPathPrefix (the object store, like avatars)
}

// Ban keeps a user out of a server: they were removed and no invite lets them back in.
type Ban struct {
	ServerID  int64
	User      User
	BannedBy  int64 // 0 when that account is gone
	Reason    string
	CreatedAt time.Time
}

// Who may open a new DM with a user (besides people they already have a DM with).
const (
	DMFromServerMembers = "server_members" // people who share a server with them (the default)
	DMFromEveryone      = "everyone"
)

type Member struct {
	ServerID int64
	User     User
	Role     string
	JoinedAt time.Time
}

type Channel struct {
	ID           int64
	ServerID     int64 // 0 for DMs
	Kind         string
	Name         string
	Topic        string
	CreatedAt    time.Time
	Participants []User // DMs only
	Group        bool   // DMs: a group DM (created as one, whatever its size now), not a 1:1 DM
	// ClosedAfter (DMs, for the user who listed them): they closed it; it stays out of their list until a message
	// with a larger id arrives. 0: open.
	ClosedAfter int64
	// Encrypted (DMs only): a member turned end-to-end encryption on; it never goes off, and the chat server then
	// accepts only ciphertext in it.
	Encrypted bool
}

type Invite struct {
	Code      string
	ServerID  int64
	CreatorID int64
	MaxUses   *int
	Uses      int
	ExpiresAt *time.Time
	CreatedAt time.Time
}

type Message struct {
	ID        int64
	ChannelID int64
	SenderID  int64
	Content   string // mentions as <@userId>, channel links as <#channelId>
	Nonce     string
	CreatedAt time.Time
	EditedAt  *time.Time
	Deleted   bool
	// Mentions are resolved when the message is sent (or edited): the users it mentions (for @here, the
	// channel's readers who were online), and whether it mentions everyone (@everyone).
	Mentions        []int64
	MentionEveryone bool
	ReplyTo         int64  // the message (same channel) this one answers; 0 for none
	Kind            string // "" for a message people wrote; KindPin: a system line (ReplyTo = the pinned message)
	// Encrypted: Content is an MLS ciphertext (base64) of an end-to-end encrypted DM; the server cannot read
	// it, so it has no mentions and is skipped by search and previews.
	Encrypted bool
	// Attachments: the files sent with the message (their metadata; the bytes are in the object store).
	Attachments []Attachment
}

// KindPin marks the system message "X pinned a message".
const KindPin = "pin"

// KindEncryption marks the system message "X turned on end-to-end encryption" (a DM).
const KindEncryption = "encryption"

// Mentioned reports whether a message mentions a user (by name, @here or @everyone), not counting its sender.
func (m Message) Mentioned(userID int64) bool {
	if userID == m.SenderID {
		return false
	}
	if m.MentionEveryone {
		return true
	}
	for _, id := range m.Mentions {
		if id == userID {
			return true
		}
	}
	return false
}

// ChannelMeta is the traffic-driven part of a channel, kept in MongoDB.
type ChannelMeta struct {
	ChannelID     int64
	LastMessageID int64
	LastMessageAt time.Time
	MessageCount  int64
	Topic         string
	Pinned        []int64
}

// Mail is one plain-text message to one address (registration mails: services/auth writes them, internal/mail
// sends them).
type Mail struct{ To, Subject, Text string }

// ChannelView is a channel as one user sees it in a list: metadata plus their read state. The community service
// fills Channel and Meta; the read state service fills the rest (the HTTP handler asks both).
type ChannelView struct {
	Channel      Channel
	Meta         ChannelMeta
	LastReadID   int64
	UnreadCount  int
	MentionCount int
}

// ChannelActivity is the coalesced traffic of one channel since the last metadata write.
type ChannelActivity struct {
	ChannelID     int64
	LastMessageID int64
	LastMessageAt time.Time
	Count         int64
}

// ReadState is one user's read and delivery position in one channel. Both only move forward.
type ReadState struct {
	UserID          int64
	ChannelID       int64
	LastReadID      int64
	LastDeliveredID int64
	UpdatedAt       time.Time
}

type Presence struct {
	UserID   int64
	Status   string
	LastSeen time.Time
}

// NodePresence is one server node's view of one user: the user is online if any node says so.
type NodePresence struct {
	UserID      int64
	NodeID      int64
	Status      string
	LastSeen    time.Time
	HeartbeatAt time.Time
}

// PendingRegistration is a registration waiting for its address to be confirmed (the token mailed to it).
type PendingRegistration struct {
	Username, Email, PasswordHash string
	ExpiresAt                     time.Time
}

// Errors stores return; services map them to client errors.
var (
	ErrNotFound      = errors.New("not found")
	ErrUsernameTaken = errors.New("username taken")
	ErrEmailTaken    = errors.New("email taken")
	ErrTokenReused   = errors.New("refresh token reused")
	ErrConflict      = errors.New("conflict")
	ErrInviteExpired = errors.New("invite expired")
	ErrInviteUsedUp  = errors.New("invite used up")
	ErrAlreadyMember = errors.New("already a member")
	ErrBanned        = errors.New("banned from the server")
	ErrLimitReached  = errors.New("limit reached")
)

// ErrLeaseHeld: another live node holds the channel lease asked for.
var ErrLeaseHeld = errors.New("the channel is owned by another node")

// ChannelLease is one node's right to order a channel's messages (several nodes). It is valid while the node's
// own lease is; a lease taken from a node that died holding it is a takeover, and that node's last writes may
// still be in flight.
type ChannelLease struct {
	Epoch              int64
	Token              string    // the stored lease, to release exactly this one
	AcquiredAt         time.Time // by the lease store's clock
	TakenOver          bool
	PreviousAcquiredAt time.Time // takeovers: when the dead holder acquired it (its message ids are newer)
}

// Desktop notification levels.
const (
	NotifyAll      = "all"
	NotifyMentions = "mentions"
	NotifyNone     = "none"
)

// UserSettings are a user's notification preferences, the same on every device.
type UserSettings struct {
	MutedChannels    []int64 // no badge or notification but for mentions
	MutedServers     []int64
	SuppressEveryone []int64 // servers whose @everyone/@here do not count as mentions
	NotifySound      bool
	Desktop          string // NotifyAll, NotifyMentions or NotifyNone
	Status           string // the presence the user chose: StatusOnline (automatic idle), StatusIdle, StatusDND or StatusInvisible
}

// Reaction is who reacted to one message with one emoji, in the order they reacted.
type Reaction struct {
	ChannelID int64
	MessageID int64
	Emoji     string
	UserIDs   []int64
}

// ReactionChange is the coalesced change of one user's reaction to one message with one emoji since the last
// write: added (At: when) or removed.
type ReactionChange struct {
	ChannelID int64
	MessageID int64
	UserID    int64
	Emoji     string
	Add       bool
	At        time.Time
}

// Attachment statuses: uploaded and not yet sent (the collector removes these after a while), claimed by a
// send that is being stored, or part of a stored message.
const (
	AttachmentReady    = "ready"
	AttachmentClaimed  = "claimed"
	AttachmentAttached = "attached"
)

// EncryptedFileType is the stored type of a file encrypted in the browser (an end-to-end encrypted DM): all the
// server knows of it. It is served as application/octet-stream, as a download.
const EncryptedFileType = "application/vnd.parley.encrypted"

// Attachment is a file uploaded to a channel. Its bytes live in the object store (ObjectKey, PreviewKey); this
// is its metadata, kept in Postgres and copied into the message that carries it.
type Attachment struct {
	ID          int64
	OwnerID     int64
	ChannelID   int64
	MessageID   int64 // 0 until its message is stored
	Nonce       string
	Status      string
	Name        string // safe display and download name
	ContentType string // sniffed from the bytes, never the client's word
	Size        int64
	Width       int    // images: pixels (0 otherwise)
	Height      int    //
	Preview     bool   // a preview image exists (images)
	ObjectKey   string // where the bytes are (never on the wire)
	PreviewKey  string
	Snippet     string // text files: the first lines, for a highlighted preview
	CreatedAt   time.Time
	ClaimedAt   time.Time // when a send last claimed it (zero while ready)
}
