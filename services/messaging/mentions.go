package messaging

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/parleychat/parley/internal/model"
)

// MentionDirectory resolves what a message mentions (the community service): the users who can read a
// channel, by lower-case username or id (all of them when both are nil), and a server's channels.
type MentionDirectory interface {
	ChannelReaders(ctx context.Context, channelID int64, usernames []string, ids []int64) ([]model.User, error)
	ServerChannels(ctx context.Context, serverID int64) ([]model.Channel, error)
}

// Online says who is connected (the presence service), for @here.
type Online interface {
	Get(ctx context.Context, caller int64, userIDs []int64) ([]model.Presence, error)
}

// maxMentions bounds the users one message can mention by name or @here (a mass-mention is @everyone).
const maxMentions = 200

var (
	// A mention token outside code: <@id>, <#id>, @name (3-32 of the username characters) or #channel-name,
	// each after the start or a character that cannot be part of a word or a token.
	mentionToken = regexp.MustCompile(`<@(\d{1,19})>|<#\d{1,19}>|(^|[^\w<@#])@([A-Za-z0-9_.-]{3,32})|(^|[^\w<@#&])#([a-z0-9-]{1,100})`)
	codeSpan     = regexp.MustCompile("(?s)```.*?```|`[^`\n]*`")
)

// mentionPlan is what a message's text asks for, before resolution.
type mentionPlan struct {
	ids       []int64
	usernames []string
	channels  []string
	everyone  bool
	here      bool
}

// outsideCode calls fn for each part of s that is not inside a code span or block, and returns s rebuilt from
// what fn returns (code kept as is): mentions in code are text.
func outsideCode(s string, fn func(string) string) string {
	var b strings.Builder
	last := 0
	for _, loc := range codeSpan.FindAllStringIndex(s, -1) {
		b.WriteString(fn(s[last:loc[0]]))
		b.WriteString(s[loc[0]:loc[1]])
		last = loc[1]
	}
	b.WriteString(fn(s[last:]))
	return b.String()
}

func planMentions(content string) mentionPlan {
	var p mentionPlan
	outsideCode(content, func(part string) string {
		for _, m := range mentionToken.FindAllStringSubmatch(part, -1) {
			switch {
			case m[1] != "":
				if id, err := strconv.ParseInt(m[1], 10, 64); err == nil {
					p.ids = append(p.ids, id)
				}
			case m[3] != "":
				switch name := strings.ToLower(strings.TrimRight(m[3], ".-")); name {
				case "everyone":
					p.everyone = true
				case "here":
					p.here = true
				default:
					p.usernames = append(p.usernames, name)
				}
			case m[5] != "":
				p.channels = append(p.channels, m[5])
			}
		}
		return part
	})
	return p
}

// resolveMentions rewrites @name and #channel-name to <@id> and <#id> where they name a reader of the channel
// or a channel of its server, and returns the mentioned user ids. @everyone and @here count only from the
// server's owner and admins (anyone in a DM); @here mentions the readers who are online now.
func (s *Service) resolveMentions(ctx context.Context, ch model.Channel, role string, m *model.Message) error {
	if s.mentions == nil || !strings.ContainsAny(m.Content, "@#") {
		return nil
	}
	p := planMentions(m.Content)
	mayAll := ch.Kind == model.ChannelDM || role == model.RoleOwner || role == model.RoleAdmin
	byName := map[string]int64{}
	readers := map[int64]bool{}
	if len(p.ids) > 0 || len(p.usernames) > 0 {
		users, err := s.mentions.ChannelReaders(ctx, ch.ID, uniq(p.usernames), uniq(p.ids))
		if err != nil {
			return err
		}
		for _, u := range users {
			byName[strings.ToLower(u.Username)] = u.ID
			readers[u.ID] = true
		}
	}
	chans := map[string]int64{}
	if len(p.channels) > 0 && ch.ServerID != 0 {
		list, err := s.mentions.ServerChannels(ctx, ch.ServerID)
		if err != nil {
			return err
		}
		for _, c := range list {
			chans[c.Name] = c.ID
		}
	}
	var ids []int64
	add := func(id int64) {
		if id != m.SenderID && len(ids) < maxMentions && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	m.Content = outsideCode(m.Content, func(part string) string {
		return mentionToken.ReplaceAllStringFunc(part, func(tok string) string {
			sub := mentionToken.FindStringSubmatch(tok)
			switch {
			case sub[1] != "":
				if id, _ := strconv.ParseInt(sub[1], 10, 64); readers[id] {
					add(id)
				}
			case sub[3] != "":
				name := strings.ToLower(strings.TrimRight(sub[3], ".-"))
				if id, ok := byName[name]; ok {
					return sub[2] + "<@" + strconv.FormatInt(id, 10) + ">" + sub[3][len(strings.TrimRight(sub[3], ".-")):]
				}
			case sub[5] != "":
				if id, ok := chans[sub[5]]; ok {
					return sub[4] + "<#" + strconv.FormatInt(id, 10) + ">"
				}
			}
			return tok
		})
	})
	for _, name := range p.usernames {
		if id, ok := byName[name]; ok {
			add(id)
		}
	}
	if mayAll && p.everyone {
		m.MentionEveryone = true
	}
	if mayAll && p.here && !p.everyone && s.online != nil {
		all, err := s.mentions.ChannelReaders(ctx, ch.ID, nil, nil)
		if err != nil {
			return err
		}
		uids := make([]int64, len(all))
		for i, u := range all {
			uids[i] = u.ID
		}
		states, err := s.online.Get(ctx, m.SenderID, uids)
		if err != nil {
			return err
		}
		for _, st := range states {
			if st.Status != model.StatusOffline {
				add(st.UserID)
			}
		}
	}
	slices.Sort(ids)
	m.Mentions = ids
	return nil
}

func uniq[T comparable](xs []T) []T {
	if len(xs) == 0 {
		return nil
	}
	var out []T
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
