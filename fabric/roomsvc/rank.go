package roomsvc

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/setbridge/setbridge/fabric"
)

// setServices ranks the live roomset nodes of node's SET for room.
func setServices(node *fabric.Node, room string) []string {
	set := node.Info().Set
	var ns []fabric.NodeInfo
	for _, n := range node.Live() {
		if n.Set == set && n.Has(RoleRoomSet) {
			ns = append(ns, n)
		}
	}
	return ids(fabric.Rank(room, ns))
}

// centrals ranks the live room nodes: the first is the central service.
func centrals(node *fabric.Node) []string {
	var ns []fabric.NodeInfo
	for _, n := range node.Live() {
		if n.Has(RoleRoom) {
			ns = append(ns, n)
		}
	}
	return ids(fabric.Rank(centralKey, ns))
}

func ids(ns []fabric.NodeInfo) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.ID
	}
	return out
}

// request sends m to the first of subjects that answers: a node without
// a responder (its service died) is skipped at once.
func request(nc *nats.Conn, subjects []string, m message, timeout time.Duration) (reply, error) {
	m.V = WireVersion
	data := encode(m)
	var errs []error
	for _, s := range subjects {
		msg, err := nc.Request(s, data, timeout)
		if err != nil {
			errs = append(errs, err)
			if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout) {
				continue
			}
			break
		}
		var rep reply
		if err := decode(msg.Data, &rep); err != nil {
			return reply{}, err
		}
		return rep, nil
	}
	return reply{}, errors.Join(append([]error{ErrUnavailable}, errs...)...)
}

// requestPage asks nodes in turn for a page and returns the first answer
// from a node that knows the room, and that node. A node that has no
// responder, does not answer in time or does not know the room (a standby
// central service, or one this node ranks first while another holds the
// room) is passed over. A nil Page with no error means no node knows the
// room: it is empty.
func requestPage(nc *nats.Conn, nodes []string, subject func(string) string, m message, timeout time.Duration) (reply, string, error) {
	m.V = WireVersion
	data := encode(m)
	var errs []error
	unknown := false
	for _, n := range nodes {
		msg, err := nc.Request(subject(n), data, timeout)
		if err != nil {
			errs = append(errs, err)
			if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout) {
				continue
			}
			break
		}
		var rep reply
		if err := decode(msg.Data, &rep); err != nil {
			return reply{}, "", err
		}
		if rep.Status == statusUnknownRoom {
			unknown = true
			continue
		}
		if err := replyError(rep); err != nil {
			return reply{}, "", err
		}
		if rep.Page == nil {
			return reply{}, "", fmt.Errorf("%w: empty answer", ErrUnavailable)
		}
		return rep, n, nil
	}
	if unknown && len(errs) == 0 {
		return reply{}, "", nil // no node knows the room
	}
	return reply{}, "", errors.Join(append([]error{ErrUnavailable}, errs...)...)
}

// statusUnknownRoom is the reply status of a central service asked for a
// page of a room it does not hold.
const statusUnknownRoom = 460

// respond answers a request, if it is one.
func respond(m *nats.Msg, rep reply) {
	if m.Reply == "" {
		return
	}
	rep.V = WireVersion
	_ = m.Respond(encode(rep))
}

func errorReply(err error) reply {
	rep := reply{Error: err.Error(), Status: 500}
	switch {
	case errors.Is(err, ErrNotFound):
		rep.Status = 404
	case errors.Is(err, ErrBadRequest):
		rep.Status = 400
	case errors.Is(err, ErrUnavailable):
		rep.Status = 503
	}
	return rep
}

// replyError turns a reply's error back into one of ours.
func replyError(rep reply) error {
	if rep.Error == "" {
		return nil
	}
	switch rep.Status {
	case 404:
		return wrapRemote(ErrNotFound, rep.Error)
	case 400:
		return wrapRemote(ErrBadRequest, rep.Error)
	case 503:
		return wrapRemote(ErrUnavailable, rep.Error)
	}
	return errors.New(rep.Error)
}

type remoteError struct {
	kind error
	msg  string
}

func (e remoteError) Error() string { return e.msg }
func (e remoteError) Unwrap() error { return e.kind }

func wrapRemote(kind error, msg string) error { return remoteError{kind, msg} }
