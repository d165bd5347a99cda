package socketapi

import (
	"strconv"

	"github.com/parleychat/parley/internal/socketio"

	"github.com/parleychat/parley/controllers/wire"
	"github.com/parleychat/parley/internal/model"
)

// Publisher turns service notifications into room changes and events. Room changes go through the adapter
// (SocketsJoin/SocketsLeave on a room), so they reach every socket of the user wherever it is connected.
// Sockets leave rooms before anything is announced, so a removed member never sees what follows.
type Publisher struct{ s *Hub }

func (p *Publisher) emit(event string, payload any, rooms ...socketio.Room) {
	if len(rooms) == 0 {
		return
	}
	if err := p.s.nsp.To(rooms...).Emit(event, payload); err != nil {
		p.s.log.Warn("socket emit failed", "event", event, "err", err)
	}
}

func channelRooms(ids []int64) []socketio.Room {
	out := make([]socketio.Room, len(ids))
	for i, id := range ids {
		out[i] = ChannelRoom(id)
	}
	return out
}

func (p *Publisher) ServerChanged(server model.Server, action string) {
	server.Role = "" // the role differs per recipient; clients keep their own
	p.emit(wire.EventServerUpdate, wire.ServerUpdateEvent{Server: wire.ToServer(server), Action: action}, ServerRoom(server.ID))
}

func (p *Publisher) ServerDeleted(serverID int64, channelIDs []int64) {
	p.emit(wire.EventServerUpdate, wire.ServerUpdateEvent{Server: wire.IDOnly{ID: wire.ID(serverID)}, Action: "deleted"}, ServerRoom(serverID))
	for _, r := range channelRooms(channelIDs) {
		p.s.nsp.In(r).SocketsLeave(r)
	}
	p.s.nsp.In(ServerRoom(serverID)).SocketsLeave(ServerRoom(serverID))
}

func (p *Publisher) MemberJoined(server model.Server, member model.Member, channelIDs []int64) {
	p.s.nsp.In(UserRoom(member.User.ID)).SocketsJoin(append(channelRooms(channelIDs), ServerRoom(server.ID))...)
	p.emit(wire.EventServerUpdate, wire.ServerUpdateEvent{Server: wire.ToServer(server), Action: "joined"}, UserRoom(member.User.ID))
	p.emit(wire.EventMemberUpdate, wire.MemberUpdateEvent{ServerID: wire.ID(server.ID), Member: wire.ToMember(member), Action: "joined"}, ServerRoom(server.ID))
}

func (p *Publisher) MemberLeft(serverID, userID int64, channelIDs []int64, action string) {
	p.s.nsp.In(UserRoom(userID)).SocketsLeave(append(channelRooms(channelIDs), ServerRoom(serverID))...)
	p.emit(wire.EventServerUpdate, wire.ServerUpdateEvent{Server: wire.IDOnly{ID: wire.ID(serverID)}, Action: action}, UserRoom(userID))
	p.emit(wire.EventMemberUpdate, wire.MemberUpdateEvent{ServerID: wire.ID(serverID), Member: wire.MemberGone{User: wire.IDOnly{ID: wire.ID(userID)}}, Action: action}, ServerRoom(serverID))
}

func (p *Publisher) MemberChanged(member model.Member) {
	p.emit(wire.EventMemberUpdate, wire.MemberUpdateEvent{ServerID: wire.ID(member.ServerID), Member: wire.ToMember(member), Action: "role"}, ServerRoom(member.ServerID))
}

func (p *Publisher) ChannelChanged(c model.Channel, meta model.ChannelMeta, action string) {
	if action == "created" {
		p.s.nsp.In(ServerRoom(c.ServerID)).SocketsJoin(ChannelRoom(c.ID))
	}
	p.emit(wire.EventChannelUpdate, wire.ChannelUpdateEvent{Channel: wire.ToChannel(c, meta, 0, 0, 0), Action: action}, ServerRoom(c.ServerID))
}

func (p *Publisher) ChannelDeleted(c model.Channel) {
	p.s.nsp.In(ChannelRoom(c.ID)).SocketsLeave(ChannelRoom(c.ID))
	p.emit(wire.EventChannelUpdate, wire.ChannelUpdateEvent{Channel: wire.ToChannel(c, model.ChannelMeta{}, 0, 0, 0), Action: "deleted"}, ServerRoom(c.ServerID))
}

func (p *Publisher) DMCreated(c model.Channel, participantIDs []int64) {
	rooms := make([]socketio.Room, len(participantIDs))
	for i, id := range participantIDs {
		rooms[i] = UserRoom(id)
	}
	p.s.nsp.In(rooms...).SocketsJoin(ChannelRoom(c.ID))
	p.emit(wire.EventChannelUpdate, wire.ChannelUpdateEvent{Channel: wire.ToChannel(c, model.ChannelMeta{}, 0, 0, 0), Action: "created"}, rooms...)
}

// SettingsChanged tells every socket of the user (their other tabs and devices).
func (p *Publisher) SettingsChanged(userID int64, s model.UserSettings) {
	p.emit(wire.EventSettingsUpdate, wire.ToSettings(s), UserRoom(userID))
}

// KeyNotice relays a notice of the key service to every socket of the users concerned on this node only: each
// node reads the notices itself (repositories/redis.KeyNotices), so the bus must not carry them again.
func (p *Publisher) KeyNotice(n model.KeyNotice) {
	rooms := make([]socketio.Room, 0, len(n.UserIDs))
	for _, id := range n.UserIDs {
		rooms = append(rooms, UserRoom(id))
	}
	ev := wire.E2EESyncEvent{Reason: n.Reason, GroupID: n.GroupID}
	if n.DeviceID != 0 {
		ev.DeviceID = strconv.FormatInt(n.DeviceID, 10)
	}
	if len(rooms) == 0 {
		return
	}
	if err := p.s.nsp.To(rooms...).Local().Emit(wire.EventE2EESync, ev); err != nil {
		p.s.log.Warn("socket emit failed", "event", wire.EventE2EESync, "err", err)
	}
}
