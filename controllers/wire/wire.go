// Package wire defines the JSON shapes of the API (docs/API.md), shared by the REST and Socket.IO controllers,
// and the converters from domain types. Ids are strings: JavaScript numbers cannot hold 64-bit ids.
package wire

import (
	"net/url"
	"strconv"
	"time"

	"github.com/parleychat/parley/internal/apperr"
	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/services/reactions"
)

// ID formats an id for the wire.
func ID(id int64) string { return strconv.FormatInt(id, 10) }

type User struct {
	ID          string    `json:"id"`
	Username    string    `json:"username"`
	DisplayName string    `json:"displayName"`
	AvatarURL   string    `json:"avatarUrl"`
	CreatedAt   time.Time `json:"createdAt"`
}

type Me struct {
	User
	Email string `json:"email"`
}

func ToUser(u model.User) User {
	return User{ID: ID(u.ID), Username: u.Username, DisplayName: u.DisplayName, AvatarURL: model.PublicAvatarURL(u.AvatarURL), CreatedAt: u.CreatedAt.UTC()}
}

func ToUsers(us []model.User) []User {
	out := make([]User, 0, len(us))
	for _, u := range us {
		out = append(out, ToUser(u))
	}
	return out
}

func ToMe(u model.User) Me { return Me{User: ToUser(u), Email: u.Email} }

type Auth struct {
	User                 Me        `json:"user"`
	AccessToken          string    `json:"accessToken"`
	RefreshToken         string    `json:"refreshToken"`
	AccessTokenExpiresAt time.Time `json:"accessTokenExpiresAt"`
}

type Server struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	OwnerID     string    `json:"ownerId"`
	Role        string    `json:"role,omitempty"`
	MemberCount int       `json:"memberCount"`
	CreatedAt   time.Time `json:"createdAt"`
	// MembersCanInvite: plain members may create invites (owners and admins always may).
	MembersCanInvite bool   `json:"membersCanInvite"`
	IconURL          string `json:"iconUrl"` // "" or /avatars/<id>.png
}

func ToServer(s model.Server) Server {
	return Server{ID: ID(s.ID), Name: s.Name, OwnerID: ID(s.OwnerID), Role: s.Role, MemberCount: s.MemberCount, CreatedAt: s.CreatedAt.UTC(),
		MembersCanInvite: s.MembersCanInvite, IconURL: s.IconURL}
}

type Member struct {
	User     User      `json:"user"`
	ServerID string    `json:"serverId"`
	Role     string    `json:"role"`
	JoinedAt time.Time `json:"joinedAt"`
}

func ToMember(m model.Member) Member {
	return Member{User: ToUser(m.User), ServerID: ID(m.ServerID), Role: m.Role, JoinedAt: m.JoinedAt.UTC()}
}

// Channel is a text channel or a DM, with the caller's read state.
type Channel struct {
	ID            string     `json:"id"`
	ServerID      *string    `json:"serverId"`
	Type          string     `json:"type"`
	Name          string     `json:"name"`
	Topic         string     `json:"topic"`
	Participants  []User     `json:"participants,omitempty"`
	Group         bool       `json:"group,omitempty"`     // DMs: a group DM (leaving it is possible), even with two people left
	Encrypted     bool       `json:"encrypted,omitempty"` // DMs: end-to-end encrypted (never turned off again); only ciphertext is accepted
	CreatedAt     time.Time  `json:"createdAt"`
	LastMessageID *string    `json:"lastMessageId"`
	LastMessageAt *time.Time `json:"lastMessageAt"`
	UnreadCount   int        `json:"unreadCount"`
	MentionCount  int        `json:"mentionCount"`
	LastReadID    *string    `json:"lastReadId"`
}

// ToChannel converts a channel with its metadata and the caller's read state (zero values when unknown).
func ToChannel(c model.Channel, meta model.ChannelMeta, lastReadID int64, unread, mentions int) Channel {
	out := Channel{ID: ID(c.ID), Type: c.Kind, Name: c.Name, Topic: meta.Topic, CreatedAt: c.CreatedAt.UTC(),
		UnreadCount: unread, MentionCount: mentions}
	if c.ServerID != 0 {
		sid := ID(c.ServerID)
		out.ServerID = &sid
	}
	if c.Kind == model.ChannelDM {
		out.Participants = ToUsers(c.Participants)
		out.Group, out.Encrypted = c.Group, c.Encrypted
	}
	if meta.LastMessageID != 0 {
		id := ID(meta.LastMessageID)
		at := meta.LastMessageAt.UTC()
		out.LastMessageID, out.LastMessageAt = &id, &at
	}
	if lastReadID != 0 {
		id := ID(lastReadID)
		out.LastReadID = &id
	}
	return out
}

type Invite struct {
	Code      string     `json:"code"`
	ServerID  string     `json:"serverId"`
	MaxUses   *int       `json:"maxUses"`
	Uses      int        `json:"uses"`
	ExpiresAt *time.Time `json:"expiresAt"`
	CreatedAt time.Time  `json:"createdAt"`
}

func ToInvite(i model.Invite) Invite {
	return Invite{Code: i.Code, ServerID: ID(i.ServerID), MaxUses: i.MaxUses, Uses: i.Uses, ExpiresAt: i.ExpiresAt, CreatedAt: i.CreatedAt.UTC()}
}

// ListedInvite is an invite in a server's invite list, with who created it (null when that account is gone).
type ListedInvite struct {
	Invite
	Creator *User `json:"creator"`
}

// Ban is one entry of a server's ban list.
type Ban struct {
	User      User      `json:"user"`
	Reason    string    `json:"reason"`
	BannedBy  *string   `json:"bannedBy"`
	CreatedAt time.Time `json:"createdAt"`
}

func ToBan(b model.Ban) Ban {
	out := Ban{User: ToUser(b.User), Reason: b.Reason, CreatedAt: b.CreatedAt.UTC()}
	if b.BannedBy != 0 {
		id := ID(b.BannedBy)
		out.BannedBy = &id
	}
	return out
}

type Message struct {
	ID        string     `json:"id"`
	ChannelID string     `json:"channelId"`
	SenderID  string     `json:"senderId"`
	Content   string     `json:"content"`
	Timestamp time.Time  `json:"timestamp"`
	Nonce     string     `json:"nonce,omitempty"`
	EditedAt  *time.Time `json:"editedAt,omitempty"`
	Read      *bool      `json:"read,omitempty"`
	// Mentions: the user ids the message mentions (content holds them as <@id>); MentionEveryone: @everyone.
	Mentions        []string `json:"mentions"`
	MentionEveryone bool     `json:"mentionEveryone"`
	ReplyTo         *string  `json:"replyTo"`             // the id of the message it answers, or null
	Type            string   `json:"type"`                // "default"; "pin": "<sender> pinned a message" (replyTo = the pinned message); "encryption": "<sender> turned on end-to-end encryption"
	Encrypted       bool     `json:"encrypted,omitempty"` // content is an MLS ciphertext (base64) only the members' devices can read
	// Reactions is present (possibly empty) in history pages and absent in events about the message.
	Reactions []Reaction `json:"reactions,omitzero"`
	// Attachments: the files sent with the message (always present, possibly empty).
	Attachments []Attachment `json:"attachments"`
}

// Attachment is a file in a message. url downloads it (members of the channel only, checked per request);
// previewUrl is a small image for images and a poster frame for videos (when the server has ffmpeg); width and height let clients reserve the space before it loads.
type Attachment struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
	Width       int    `json:"width,omitempty"`
	Height      int    `json:"height,omitempty"`
	URL         string `json:"url"`
	PreviewURL  string `json:"previewUrl,omitempty"`
	Snippet     string `json:"snippet,omitempty"` // text files: the first lines
}

// ToAttachment converts an attachment; its URLs are on our own origin, under /files/.
func ToAttachment(a model.Attachment) Attachment {
	u := "/files/" + ID(a.ID) + "/" + url.PathEscape(a.Name)
	out := Attachment{ID: ID(a.ID), Name: a.Name, ContentType: a.ContentType, Size: a.Size, Width: a.Width, Height: a.Height, URL: u, Snippet: a.Snippet}
	if a.Preview {
		out.PreviewURL = u + "?preview=1"
	}
	return out
}

// Reaction is one emoji's reactions to a message as the caller sees them.
type Reaction struct {
	Emoji   string   `json:"emoji"`
	Count   int      `json:"count"`
	Me      bool     `json:"me"`
	UserIDs []string `json:"userIds"` // the first few who reacted, in order
}

func ToReaction(s reactions.Summary) Reaction {
	return Reaction{Emoji: s.Emoji, Count: s.Count, Me: s.Me, UserIDs: IDs(s.UserIDs)}
}

// ToReactions converts a message's reactions; never nil, so the field is present.
func ToReactions(ss []reactions.Summary) []Reaction {
	out := make([]Reaction, 0, len(ss))
	for _, s := range ss {
		out = append(out, ToReaction(s))
	}
	return out
}

// IDs formats ids for the wire; never nil.
func IDs(ids []int64) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = ID(id)
	}
	return out
}

func ToMessage(m model.Message) Message {
	mentions := make([]string, len(m.Mentions))
	for i, id := range m.Mentions {
		mentions[i] = ID(id)
	}
	out := Message{ID: ID(m.ID), ChannelID: ID(m.ChannelID), SenderID: ID(m.SenderID), Content: m.Content,
		Timestamp: m.CreatedAt.UTC(), Nonce: m.Nonce, EditedAt: m.EditedAt, Mentions: mentions, MentionEveryone: m.MentionEveryone, Encrypted: m.Encrypted}
	if m.ReplyTo != 0 {
		id := ID(m.ReplyTo)
		out.ReplyTo = &id
	}
	out.Type = "default"
	if m.Kind != "" {
		out.Type = m.Kind
	}
	out.Attachments = make([]Attachment, len(m.Attachments))
	for i, a := range m.Attachments {
		out.Attachments[i] = ToAttachment(a)
	}
	return out
}

func ToMessages(ms []model.Message) []Message {
	out := make([]Message, 0, len(ms))
	for _, m := range ms {
		out = append(out, ToMessage(m))
	}
	return out
}

type Presence struct {
	UserID   string     `json:"userId"`
	Status   string     `json:"status"`
	LastSeen *time.Time `json:"lastSeen"` // null: never seen
}

func ToPresence(p model.Presence) Presence {
	out := Presence{UserID: ID(p.UserID), Status: p.Status}
	if !p.LastSeen.IsZero() {
		t := p.LastSeen.UTC()
		out.LastSeen = &t
	}
	return out
}

type Receipt struct {
	UserID          string  `json:"userId"`
	LastReadID      *string `json:"lastReadId"`
	LastDeliveredID *string `json:"lastDeliveredId"`
}

func ToReceipt(r model.ReadState) Receipt {
	out := Receipt{UserID: ID(r.UserID)}
	if r.LastReadID != 0 {
		id := ID(r.LastReadID)
		out.LastReadID = &id
	}
	if r.LastDeliveredID != 0 {
		id := ID(r.LastDeliveredID)
		out.LastDeliveredID = &id
	}
	return out
}

// ParseID reads a wire id (a positive decimal string); field names the input in the error.
func ParseID(s, field string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.InvalidField(field, field+" must be an id (a positive decimal string)")
	}
	return id, nil
}

// Settings are a user's notification settings (GET/PUT /api/me/settings, settings:update).
type Settings struct {
	MutedChannels    []string `json:"mutedChannels"`
	MutedServers     []string `json:"mutedServers"`
	SuppressEveryone []string `json:"suppressEveryone"`
	NotifySound      bool     `json:"notifySound"`
	Desktop          string   `json:"desktop"`
	// The presence the user chose: "online" (automatic idle), "idle", "dnd" or "invisible"; absent means online.
	Status string `json:"status,omitempty"`
}

func ToSettings(s model.UserSettings) Settings {
	ids := func(in []int64) []string {
		out := make([]string, len(in))
		for i, id := range in {
			out[i] = ID(id)
		}
		return out
	}
	return Settings{MutedChannels: ids(s.MutedChannels), MutedServers: ids(s.MutedServers), SuppressEveryone: ids(s.SuppressEveryone),
		NotifySound: s.NotifySound, Desktop: s.Desktop, Status: s.Status}
}

// FromSettings parses settings sent by a client.
func FromSettings(s Settings) (model.UserSettings, error) {
	out := model.UserSettings{NotifySound: s.NotifySound, Desktop: s.Desktop, Status: s.Status}
	for _, f := range []struct {
		name string
		in   []string
		dst  *[]int64
	}{{"mutedChannels", s.MutedChannels, &out.MutedChannels}, {"mutedServers", s.MutedServers, &out.MutedServers}, {"suppressEveryone", s.SuppressEveryone, &out.SuppressEveryone}} {
		if len(f.in) > 500 {
			return out, apperr.InvalidField(f.name, f.name+" may list at most 500 ids")
		}
		for _, raw := range f.in {
			id, err := ParseID(raw, f.name)
			if err != nil {
				return out, err
			}
			*f.dst = append(*f.dst, id)
		}
	}
	return out, nil
}

// SearchResults is one page of GET /api/search, newest first.
type SearchResults struct {
	Results           []SearchResult `json:"results"`
	Total             int            `json:"total"`             // every match (at most 10,000 counted)
	TotalIsLowerBound bool           `json:"totalIsLowerBound"` // there are more than Total
	Next              *string        `json:"next"`              // pass as before= for the next page; null on the last
}

// SearchResult is a message that matched and where its text matched.
type SearchResult struct {
	Message    Message     `json:"message"`
	Highlights []TextRange `json:"highlights"`
	// Before and After: the messages around it, oldest first (with ?context=; absent otherwise).
	Before []Message `json:"before,omitempty"`
	After  []Message `json:"after,omitempty"`
}

// TextRange is a span of a message's content in UTF-16 code units (JavaScript string indexes), end exclusive.
type TextRange struct {
	Start int `json:"start"`
	End   int `json:"end"`
}
