package socketapi

import (
	"github.com/parleychat/parley/controllers/wire"
	"github.com/parleychat/parley/internal/model"
)

// DMClosed tells the user's own sockets (other tabs, devices) that they closed a 1:1 DM. They stay in its room,
// so the next message brings it back.
func (p *Publisher) DMClosed(channelID, userID int64) {
	c := wire.ToChannel(model.Channel{ID: channelID, Kind: model.ChannelDM}, model.ChannelMeta{}, 0, 0, 0)
	p.emit(wire.EventChannelUpdate, wire.ChannelUpdateEvent{Channel: c, Action: "closed"}, UserRoom(userID))
}

// DMLeft takes a user who left a group DM out of its room on every node (before anything else is announced
// there), tells their sockets "left", and the remaining participants "updated" with who is left.
func (p *Publisher) DMLeft(c model.Channel, userID int64, remaining []int64) {
	p.s.nsp.In(UserRoom(userID)).SocketsLeave(ChannelRoom(c.ID))
	p.emit(wire.EventChannelUpdate, wire.ChannelUpdateEvent{Channel: wire.ToChannel(model.Channel{ID: c.ID, Kind: model.ChannelDM}, model.ChannelMeta{}, 0, 0, 0), Action: "left"}, UserRoom(userID))
	if len(remaining) > 0 {
		p.emit(wire.EventChannelUpdate, wire.ChannelUpdateEvent{Channel: wire.ToChannel(c, model.ChannelMeta{}, 0, 0, 0), Action: "updated"}, ChannelRoom(c.ID))
	}
}

// DMEncrypted tells every member's sockets that end-to-end encryption is now on in a DM ("updated", with its
// participants and encrypted: true), so their clients seal from the next message on.
func (p *Publisher) DMEncrypted(c model.Channel) {
	p.emit(wire.EventChannelUpdate, wire.ChannelUpdateEvent{Channel: wire.ToChannel(c, model.ChannelMeta{}, 0, 0, 0), Action: "updated"}, ChannelRoom(c.ID))
}
