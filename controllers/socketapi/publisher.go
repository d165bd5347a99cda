package socketapi

import (
	"github.com/zishang520/socket.io/servers/socket/v3"

	"github.com/parleychat/parley/controllers/wire"
	"github.com/parleychat/parley/internal/model"
)

// Publisher turns service notifications into room changes and events. Room changes go through the adapter
// (SocketsJoin/SocketsLeave on a room), so they reach every socket of the user wherever it is connected.
// Sockets leave rooms before anything is announced, so a removed member never sees what follows.
type Publisher struct{ s *Server }

// Publisher returns the notifier the services use.
func (s *Server) Publisher() *Publisher { return &Publisher{s: s} }

func (p *Publisher) emit(event string, payload any, rooms ...socket.Room) {
	if len(rooms) == 0 {
		return
	}
	if err := p.s.io.To(rooms...).Emit(event, payload); err != nil {
		p.s.log.Warn("socket emit failed", "event", event, "err", err)
	}
}

func channelRooms(ids []int64) []socket.Room {
	out := make([]socket.Room, len(ids))
	for i, id := range ids {
		out[i] = ChannelRoom(id)
	}
	return out
}

func (p *Publisher) ServerChanged(server model.Server, action string) {
	server.Role = "" // the role differs per recipient; clients keep their own
	p.emit("server:update", map[string]any{"server": wire.ToServer(server), "action": action}, ServerRoom(server.ID))
}

func (p *Publisher) ServerDeleted(serverID int64, channelIDs []int64) {
	p.emit("server:update", map[string]any{"server": map[string]any{"id": wire.ID(serverID)}, "action": "deleted"}, ServerRoom(serverID))
	for _, r := range channelRooms(channelIDs) {
		p.s.io.In(r).SocketsLeave(r)
	}
	p.s.io.In(ServerRoom(serverID)).SocketsLeave(ServerRoom(serverID))
}

func (p *Publisher) MemberJoined(server model.Server, member model.Member, channelIDs []int64) {
	p.s.io.In(UserRoom(member.User.ID)).SocketsJoin(append(channelRooms(channelIDs), ServerRoom(server.ID))...)
	p.emit("server:update", map[string]any{"server": wire.ToServer(server), "action": "joined"}, UserRoom(member.User.ID))
	p.emit("member:update", map[string]any{"serverId": wire.ID(server.ID), "member": wire.ToMember(member), "action": "joined"}, ServerRoom(server.ID))
}

func (p *Publisher) MemberLeft(serverID, userID int64, channelIDs []int64, action string) {
	p.s.io.In(UserRoom(userID)).SocketsLeave(append(channelRooms(channelIDs), ServerRoom(serverID))...)
	p.emit("server:update", map[string]any{"server": map[string]any{"id": wire.ID(serverID)}, "action": action}, UserRoom(userID))
	p.emit("member:update", map[string]any{"serverId": wire.ID(serverID), "member": map[string]any{"user": map[string]any{"id": wire.ID(userID)}}, "action": action}, ServerRoom(serverID))
}

func (p *Publisher) MemberChanged(member model.Member) {
	p.emit("member:update", map[string]any{"serverId": wire.ID(member.ServerID), "member": wire.ToMember(member), "action": "role"}, ServerRoom(member.ServerID))
}

func (p *Publisher) ChannelChanged(c model.Channel, meta model.ChannelMeta, action string) {
	if action == "created" {
		p.s.io.In(ServerRoom(c.ServerID)).SocketsJoin(ChannelRoom(c.ID))
	}
	p.emit("channel:update", map[string]any{"channel": wire.ToChannel(c, meta, 0, 0, 0), "action": action}, ServerRoom(c.ServerID))
}

func (p *Publisher) ChannelDeleted(c model.Channel) {
	p.s.io.In(ChannelRoom(c.ID)).SocketsLeave(ChannelRoom(c.ID))
	p.emit("channel:update", map[string]any{"channel": wire.ToChannel(c, model.ChannelMeta{}, 0, 0, 0), "action": "deleted"}, ServerRoom(c.ServerID))
}

func (p *Publisher) DMCreated(c model.Channel, participantIDs []int64) {
	rooms := make([]socket.Room, len(participantIDs))
	for i, id := range participantIDs {
		rooms[i] = UserRoom(id)
	}
	p.s.io.In(rooms...).SocketsJoin(ChannelRoom(c.ID))
	p.emit("channel:update", map[string]any{"channel": wire.ToChannel(c, model.ChannelMeta{}, 0, 0, 0), "action": "created"}, rooms...)
}
