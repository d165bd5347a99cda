package attachments

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/model"
	"github.com/parleychat/parley/internal/snowflake"
)

// SentMessages finds the message a send stored (the Cassandra message log): the sweeper asks it about files a
// send claimed long ago whose message was never recorded.
type SentMessages interface {
	SentWith(ctx context.Context, channelID, senderID int64, nonce string, from, to int64) (model.Message, bool, error)
	Get(ctx context.Context, channelID, messageID int64) (model.Message, error)
}

// Swept counts what one sweep did.
type Swept struct {
	Unsent       int // uploads never sent within UnsentTTL, removed
	GoneChannels int // files of deleted channels (and so of deleted servers and group DMs), removed
	StaleClaims  int // files claimed by a send whose message was never stored, removed
	Repaired     int // files claimed by a stored message whose "attached" record was lost, recorded now
	Deleted      int // files of a deleted message whose deletion a crash cut short, removed
	Objects      int // objects no row points to (a crash between storing an upload and recording it), removed
}

func (w Swept) total() int {
	return w.Unsent + w.GoneChannels + w.StaleClaims + w.Repaired + w.Deleted + w.Objects
}

// claimWindow bounds how far from its claim a message's id can be: the id is taken right after the claim on
// the owner node (clocks of nodes differ by less than this).
const claimWindow = 5 * time.Minute

// sweepBatch bounds the rows one step handles before it looks again.
const sweepBatch = 500

// Sweep removes what nothing references any more, each step bounded so a big backlog is worked off over
// several runs: uploads never sent, files of deleted channels, claims whose message was never stored, and
// objects without a row (attachments) or without a profile or server showing them (avatars, icons). Objects and
// claims younger than OrphanGrace are left alone: an upload or send may still be on its way.
func (s *Service) Sweep(ctx context.Context) (Swept, error) {
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	var w Swept
	var err error
	if w.Unsent, err = s.Collect(ctx); err != nil {
		return w, err
	}
	if w.GoneChannels, err = s.sweepGoneChannels(ctx); err != nil {
		return w, err
	}
	if w.StaleClaims, w.Repaired, err = s.sweepClaims(ctx); err != nil {
		return w, err
	}
	if w.Deleted, err = s.sweepDeletions(ctx); err != nil {
		return w, err
	}
	n, err := s.sweepObjects(ctx, "att/", s.orphanAttachments)
	w.Objects += n
	if err != nil {
		return w, err
	}
	n, err = s.sweepObjects(ctx, "avatars/", s.orphanImages)
	w.Objects += n
	return w, err
}

func (s *Service) sweepGoneChannels(ctx context.Context) (int, error) {
	chans, err := s.store.GoneChannels(ctx, 100)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, ch := range chans {
		for {
			as, err := s.store.InChannel(ctx, ch, sweepBatch)
			if err != nil {
				return total, err
			}
			if len(as) == 0 {
				break
			}
			if err := s.remove(ctx, as); err != nil {
				return total, err
			}
			total += len(as)
		}
		if _, err := s.store.ForgetGoneChannel(ctx, ch); err != nil {
			return total, err
		}
	}
	return total, nil
}

// sweepClaims settles claims older than the grace period whose message was never recorded: if the message is
// in the log (the "attached" write after it was lost), the record is repaired; if it is not (the write failed
// and the sender never retried) or it was deleted, the files go.
func (s *Service) sweepClaims(ctx context.Context) (removed, repaired int, err error) {
	if s.cfg.Sent == nil {
		return 0, 0, nil
	}
	as, err := s.store.StaleClaims(ctx, s.now().Add(-s.cfg.OrphanGrace), sweepBatch)
	if err != nil {
		return 0, 0, err
	}
	for _, a := range as {
		from, to := snowflake.FirstIDAt(a.ClaimedAt.Add(-claimWindow)), snowflake.FirstIDAt(a.ClaimedAt.Add(claimWindow))
		m, found, err := s.cfg.Sent.SentWith(ctx, a.ChannelID, a.OwnerID, a.Nonce, from, to)
		if err != nil {
			return removed, repaired, err
		}
		if found && !m.Deleted && slices.ContainsFunc(m.Attachments, func(x model.Attachment) bool { return x.ID == a.ID }) {
			if err := s.store.Attach(ctx, m.ID, []int64{a.ID}); err != nil {
				return removed, repaired, err
			}
			repaired++
			continue
		}
		if err := s.remove(ctx, []model.Attachment{a}); err != nil {
			return removed, repaired, err
		}
		removed++
	}
	return removed, repaired, nil
}

// sweepDeletions finishes deletions a crash cut short: files marked before their message's delete, an hour
// ago. The message gone or deleted: the files go; still there (its delete failed): the mark is cleared.
func (s *Service) sweepDeletions(ctx context.Context) (int, error) {
	if s.cfg.Sent == nil {
		return 0, nil
	}
	as, err := s.store.StaleDeletions(ctx, s.now().Add(-s.cfg.OrphanGrace), sweepBatch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, a := range as {
		m, err := s.cfg.Sent.Get(ctx, a.ChannelID, a.MessageID)
		if err != nil && !errors.Is(err, model.ErrNotFound) {
			return n, err
		}
		if err == nil && !m.Deleted {
			if err := s.store.KeepDeleting(ctx, []int64{a.ID}); err != nil {
				return n, err
			}
			continue
		}
		if err := s.remove(ctx, []model.Attachment{a}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// sweepObjects walks one folder of the store a page (SweepPage keys) per run, resuming where the last run
// stopped and starting over at the end, and deletes the keys orphans picks out.
func (s *Service) sweepObjects(ctx context.Context, prefix string, orphans func(context.Context, []string) ([]string, error)) (int, error) {
	keys, err := s.objects.Keys(ctx, prefix, s.cursor[prefix], s.cfg.SweepPage)
	if err != nil {
		return 0, err
	}
	if len(keys) < s.cfg.SweepPage {
		s.cursor[prefix] = "" // the end: the next run starts over
	} else {
		s.cursor[prefix] = keys[len(keys)-1]
	}
	n := 0
	for batch := range slices.Chunk(keys, sweepBatch) {
		dead, err := orphans(ctx, batch)
		if err != nil {
			return n, err
		}
		for _, k := range dead {
			if err := s.objects.Delete(ctx, k); err != nil {
				return n, err
			}
			s.log.Info("deleted an object nothing refers to", "key", k)
			n++
		}
	}
	return n, nil
}

// old reports whether an id (a Snowflake: it carries its creation time) is older than the grace period.
func (s *Service) old(id int64) bool {
	return snowflake.Time(id).Before(s.now().Add(-s.cfg.OrphanGrace))
}

// orphanAttachments picks the keys att/<id>/... whose id is old and has no row.
func (s *Service) orphanAttachments(ctx context.Context, keys []string) ([]string, error) {
	byID := map[int64][]string{}
	var ids []int64
	for _, k := range keys {
		part, _, _ := strings.Cut(strings.TrimPrefix(k, "att/"), "/")
		id, err := strconv.ParseInt(part, 10, 64)
		if err != nil || !s.old(id) {
			continue // not ours to judge, or maybe still being uploaded
		}
		if byID[id] == nil {
			ids = append(ids, id)
		}
		byID[id] = append(byID[id], k)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.store.ByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, a := range rows {
		delete(byID, a.ID)
	}
	var out []string
	for _, id := range ids {
		out = append(out, byID[id]...)
	}
	return out, nil
}

// orphanImages picks the keys avatars/<id>.png that are old and that no user or server shows.
func (s *Service) orphanImages(ctx context.Context, keys []string) ([]string, error) {
	var paths []string
	for _, k := range keys {
		name := strings.TrimPrefix(k, "avatars/")
		id, err := strconv.ParseInt(strings.TrimSuffix(name, ".png"), 10, 64)
		if err != nil || !avatarName.MatchString(name) || !s.old(id) {
			continue
		}
		paths = append(paths, model.AvatarPathPrefix+name)
	}
	if len(paths) == 0 {
		return nil, nil
	}
	used, err := s.store.ImagesInUse(ctx, paths)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range paths {
		if !slices.Contains(used, p) {
			out = append(out, "avatars/"+strings.TrimPrefix(p, model.AvatarPathPrefix))
		}
	}
	return out, nil
}
